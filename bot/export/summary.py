"""Sheet 1 (the official table by level) and sheet 4 (the shortcomings)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from bot.export.sheet import Column, Sheet, column_maker, rate_value
from storage.figures import (
    Figures,
    GroupFigures,
)
from storage.i18n import t
from storage.i18n.formatting import level_label
from storage.review import review_basis
from storage.sheets import append_row
from storage.shortcoming_text import shortcoming_params
from storage.shortcomings import KINDS, Shortcoming


def summary_columns(lang: str) -> list[Column]:
    c = column_maker("summary", lang, kind="int", width=13)

    return [
        c("level", "text", 26),
        c("expected", width=15),
        c("reported"),
        c("percent", "percent", 9),
        c("attended"),
        c("members"),
        c("percent", "percent", 9),
        c("essays"),
        c("essay_base"),
        c("percent", "percent", 9),
        c("programs", width=16),
        c("percent", "percent", 9),
        c("heads_with_plan", width=18),
        c("heads"),
        c("percent", "percent", 9),
    ]


def summary_row(label: str, group: GroupFigures) -> list[Any]:
    """One line of the official table, rates pooled: the unit counts count every expected unit
    (a cell and its committee both, `GroupFigures.units`), the member counts none twice."""
    s = group.unit_session

    def pct(rate: Any) -> float | str:
        value = rate_value(rate.numerator, rate.denominator)
        return t("common.dash") if value is None else value

    return [
        label,
        s.expected,
        s.reported,
        pct(s.reported_rate),
        group.attended,
        group.members,
        pct(group.attendance),
        group.essays,
        group.attended,
        pct(group.essay),
        group.units_with_program_all,
        pct(group.unit_program),
        group.heads_with_plan,
        group.heads,
        pct(group.action_plan),
    ]


def write_summary(workbook: Workbook, figures: Figures, lang: str) -> None:
    sheet = Sheet(workbook, t("export.sheet.summary", lang), summary_columns(lang))
    for level, group in zip(figures.levels, figures.per_level, strict=True):
        sheet.append(summary_row(level_label(level, lang), group))
    # One row per reporting group the campaign declares ("Cấp tỉnh và cấp huyện", "Cấp cơ sở"),
    # then the total: their unit counts are the sums of their levels' rows; their member counts
    # add only units that do not overlap (storage.figures.overlap). A group of one level is that
    # level's row already.
    for group in figures.reporting_groups:
        if len(group.levels) == 1 and group.levels[0] in {lv.code for lv in figures.levels}:
            continue
        label = group.label(lang) or ""
        sheet.append(summary_row(label[:1].upper() + label[1:], group), bold=True)
    sheet.append(summary_row(t("export.summary.total", lang), figures.total), bold=True)
    sheet.ws.append([])
    append_row(
        sheet.ws,
        [
            t(
                "export.summary.note",
                lang,
                reference=figures.reference,
                name=figures.campaign_name,
                as_of=figures.as_of.astimezone(ZoneInfo(figures.timezone)).strftime(
                    "%d/%m/%Y %H:%M"
                ),
            )
        ],
    )
    append_row(sheet.ws, [review_basis(figures.approved_only, lang)])


# ---------------------------------------------------------------------------------------------
# Sheet 2: one row per unit


def shortcoming_label(item: Shortcoming, lang: str) -> str:
    """A short title for a shortcoming kind (catalog key `export.shortcoming.<kind>`), with its
    parameters (storage.shortcoming_text)."""
    if item.kind not in KINDS:
        return item.kind
    return t(f"export.shortcoming.{item.kind}", lang, **shortcoming_params(item, lang))


def shortcoming_columns(lang: str) -> list[Column]:
    c = column_maker("shortcomings", lang)
    return [c("kind", width=50), c("code", width=12), c("name", width=34), c("level", width=16)]
