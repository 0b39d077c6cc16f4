"""The compact on-demand digest (/tonghop, /thongke) as plain text, from `Figures` only: per
reporting group (or level), each deliverable's expected / reported / on time / late / missing
(every expected unit, `GroupFigures.units`), then the pooled rates;
then all levels together when there is more than one."""

from __future__ import annotations

from storage.figures import Figures, GroupFigures
from storage.i18n import t
from storage.i18n.formatting import date_text, level_label, with_figures
from storage.status_text import status_line


def _group_lines(figures: Figures, group: GroupFigures, lang: str) -> list[str]:
    lines = []
    for info in figures.deliverables:
        status = group.units.get(info.key)  # every expected unit, as the digest counts
        if status is None or not status.expected:
            continue
        lines.append(status_line("digest.brief.status", info, status, lang))
    lines.append(
        with_figures(
            "digest.brief.rates",
            lang,
            attendance=group.attendance,
            essays=group.essay,
            programs=group.unit_program,
            plans=group.action_plan,
        )
    )
    return lines


def _has_units(group: GroupFigures) -> bool:
    return bool(group.expected_units)


def digest_text(figures: Figures, lang: str) -> str:
    lines = [
        t(
            "digest.brief.head",
            lang,
            campaign=figures.campaign_name,
            reference=figures.reference,
            date=date_text(figures.as_of_date, lang),
        )
    ]
    # The campaign's reporting groups by default (cấp tỉnh và cấp huyện; cấp cơ sở) and the
    # levels no group holds, else the levels: the rows' unit counts add up to the total's.
    groups = [g for g in figures.table_groups if _has_units(g)]
    if not groups:
        lines.append(t("digest.brief.empty", lang))
        return "\n".join(lines)
    for group in groups:
        named = group.label(lang) or ", ".join(level_label(lv, lang) for lv in group.levels)
        label = named[:1].upper() + named[1:]
        lines.append(t("digest.brief.level", lang, level=label))
        lines.extend(_group_lines(figures, group, lang))
    if len(groups) > 1:
        lines.append(t("digest.brief.total", lang))
        lines.extend(_group_lines(figures, figures.total, lang))
    return "\n".join(lines)
