"""The compact on-demand digest (/tonghop, /thongke) as plain text, from `Figures` only: per
level, each deliverable's expected / reported / on time / late / missing, then the pooled rates;
then all levels together when there is more than one."""

from __future__ import annotations

from storage.figures import Figures, GroupFigures
from storage.i18n import t
from storage.i18n.formatting import date_text, level_label, with_figures
from storage.status_text import status_line


def _group_lines(figures: Figures, group: GroupFigures, lang: str) -> list[str]:
    lines = []
    for info in figures.deliverables:
        status = group.status.get(info.key)
        if status is None or not status.expected:
            continue
        lines.append(status_line("digest.brief.status", info, status, lang))
    lines.append(
        with_figures(
            "digest.brief.rates",
            lang,
            attendance=group.attendance,
            essays=group.essay,
            programs=group.action_program,
            plans=group.action_plan,
        )
    )
    return lines


def _has_units(group: GroupFigures) -> bool:
    return any(status.expected for status in group.status.values())


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
    # The campaign's reporting groups by default (cấp tỉnh và cấp huyện; cấp cơ sở), else levels.
    groups = [g for g in figures.reporting_groups if _has_units(g)]
    groups = groups or [g for g in figures.per_level if _has_units(g)]
    if not groups:
        lines.append(t("digest.brief.empty", lang))
        return "\n".join(lines)
    for group in groups:
        named = group.label(lang)
        label = named[:1].upper() + named[1:] if named else level_label(group.levels[0], lang)
        lines.append(t("digest.brief.level", lang, level=label))
        lines.extend(_group_lines(figures, group, lang))
    if len(groups) > 1:
        lines.append(t("digest.brief.total", lang))
        lines.extend(_group_lines(figures, figures.total, lang))
    return "\n".join(lines)
