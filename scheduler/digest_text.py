"""The weekly digest as text, from `scheduler.digest_types.DigestData` (data and rendering apart).

Plain text (the channel adapter decides about monospace), every sentence from the catalog
(digest.po), every number, percentage and date through `storage.i18n.formatting`. The whole digest
stays under one Telegram message (4,096 characters): long lists are cut ("… và N đơn vị khác")
with a pointer to `/donvi MÃ` and `/xuat`; if it is still too long the lists shrink further.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from scheduler.digest_types import CampaignDigest, DigestData, UnitList
from storage.clock import local_date
from storage.figures import Figures, GroupFigures, Rate, rate_change
from storage.i18n import t
from storage.i18n.formatting import date_text, level_label, name_in, number, percent, percent_value
from storage.models import ROLE_SUPERVISOR
from storage.shortcoming_text import shortcoming_params, shortcoming_share
from storage.shortcomings import (
    ACTION_PLANS_INCOMPLETE,
    LOW_ESSAY_RATE,
    NO_ACTION_PROGRAM,
    PRESENTER_QUALITY,
    SHORT_SESSION,
    Shortcoming,
)
from storage.status_text import status_line

MAX_CHARS = 4096
DEFAULT_TZ = "Asia/Ho_Chi_Minh"
# (units listed per list, unit codes per shortcoming, unreachable people listed): tried in order
# until the text fits.
BUDGETS = ((15, 8, 10), (8, 5, 5), (4, 3, 3), (2, 0, 1), (0, 0, 0))
# The article's order: presenters first (storage.shortcomings.KINDS).
SHORTCOMING_KINDS = (
    PRESENTER_QUALITY,
    SHORT_SESSION,
    LOW_ESSAY_RATE,
    ACTION_PLANS_INCOMPLETE,
    NO_ACTION_PROGRAM,
)


def _locale(lang: str) -> str:
    return "en" if lang == "en" else "vi"


def _rate(rate: Rate, lang: str) -> str:
    return percent(rate.numerator, rate.denominator, lang)


def delta_text(change: Fraction, lang: str) -> str:
    """A change in percentage points, signed, one decimal rounded half up: `+12,5`, `-3,0`."""
    value = percent_value(change.numerator, change.denominator * 100) or Decimal(0)
    text = format_decimal(abs(value), format="#,##0.0", locale=_locale(lang))
    return f"-{text}" if change < 0 else f"+{text}"


def change_text(current: Rate, previous: Rate | None, lang: str) -> str | None:
    """ "tăng 12,5 điểm phần trăm so với tuần trước" / "giảm ...", "không đổi ...", or None when
        either rate is undefined (a change of a rate is in percentage points, said as such). When
    the base grew since last week (more units reported), that is said too."""
    if previous is None:
        return None
    change = rate_change(current, previous)
    if change is None:
        return None
    if not percent_value(abs(change.numerator), change.denominator * 100):
        said = t("digest.change.same", lang)  # 0, or a change that rounds to 0,0
    else:
        key = "digest.change.up" if change > 0 else "digest.change.down"
        said = t(key, lang, delta=delta_text(abs(change), lang).lstrip("+"))
    if current.denominator > previous.denominator:
        # More units reported (or more members counted): the rates compare different sets.
        grew = t(
            "digest.change.base_grew",
            lang,
            before=number(previous.denominator, lang),
            now=number(current.denominator, lang),
        )
        said = f"{said} {grew}"
    return said


def _title(figures: Figures, lang: str) -> str:
    iso = figures.as_of_date.isocalendar()
    return t("digest.title", lang, week=iso.week, year=iso.year, reference=figures.reference)


def _as_of(figures: Figures, lang: str) -> str:
    local = figures.as_of.astimezone(ZoneInfo(figures.timezone))
    previous = figures.previous.as_of_date if figures.previous else figures.as_of_date
    return t(
        "digest.as_of",
        lang,
        time=local.strftime("%H:%M"),
        date=date_text(local.date(), lang),
        previous=date_text(previous, lang),
    )


def _headline(figures: Figures, lang: str) -> list[list[str]]:
    total = figures.total
    before = figures.previous.total if figures.previous else None
    blocks: list[list[str]] = []
    # Unit counts count every expected unit (`GroupFigures.units`): the same units the lists
    # and the shortcomings below name, so the counts and the lists agree.
    for index, info in enumerate(figures.deliverables, start=1):
        status = total.units[info.key]
        if not status.expected:
            continue
        change = change_text(
            status.reported_rate,
            before.units[info.key].reported_rate if before and info.key in before.units else None,
            lang,
        )
        name = name_in(info, lang)
        blocks.append(
            [
                t("digest.deliverable", lang, index=index, name=name),
                t(
                    "digest.reported",
                    lang,
                    reported=number(status.reported, lang),
                    expected=number(status.expected, lang),
                    rate=_rate(status.reported_rate, lang),
                    change=f", {change}" if change else "",
                ),
                status_line("digest.status", info, status, lang),
            ]
        )
    return blocks


def _rates(total: GroupFigures, before: GroupFigures | None, lang: str) -> list[str]:
    items = (
        ("digest.rate.attendance", total.attendance, before.attendance if before else None),
        ("digest.rate.essay", total.essay, before.essay if before else None),
        # Units with a programme: a unit count, every expected unit; the other three pool
        # members, none twice (storage.figures.overlap).
        ("digest.rate.program", total.unit_program, before.unit_program if before else None),
        ("digest.rate.plan", total.action_plan, before.action_plan if before else None),
    )
    lines = []
    for key, rate, previous in items:
        if not rate.denominator:
            continue
        change = change_text(rate, previous, lang)
        lines.append(
            t(
                key,
                lang,
                rate=_rate(rate, lang),
                count=number(rate.numerator, lang),
                total=number(rate.denominator, lang),
                change=f"; {change}" if change else "",
            )
        )
    return [t("digest.rates", lang), *lines] if lines else []


def group_label(group: GroupFigures, lang: str) -> str:
    """A row's label: the reporting group's own, else its level labels ("Chi bộ trực thuộc")."""
    named = group.label(lang) or ", ".join(level_label(level, lang) for level in group.levels)
    return named[:1].upper() + named[1:]


def level_table(figures: Figures, lang: str) -> list[str]:
    """Aligned plain-text rows: level, reported/expected per deliverable, essay rate."""
    keys = [d.key for d in figures.deliverables]
    # Rows are the campaign's reporting groups when it declares them, else the levels: the
    # heading and the first column say which ("Theo nhóm báo cáo" / "Theo cấp").
    grouped = bool(figures.reporting_groups)
    header = [
        t("digest.table.group" if grouped else "digest.table.level", lang),
        *(f"({i})" for i in range(1, len(keys) + 1)),
        t("digest.table.essay", lang),
    ]
    rows = [header]
    for group in figures.table_groups:
        if not group.expected_units:
            continue
        cells = [
            f"{number(group.units[k].reported, lang)}/{number(group.units[k].expected, lang)}"
            if group.units[k].expected
            else "—"
            for k in keys
        ]
        rows.append([group_label(group, lang), *cells, _rate(group.essay, lang)])
    if len(rows) == 1:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    return [t("digest.table.by_group" if grouped else "digest.table", lang), *lines]


def _unit_list(
    head: str, units: UnitList, figures: Figures, cap: int, lang: str
) -> tuple[list[str], bool]:
    """The list's lines and whether it was cut."""
    if not units.total:
        return [], False
    index = {d.key: i for i, d in enumerate(figures.deliverables, start=1)}
    several = len(figures.deliverables) > 1
    lines = [t(head, lang, count=number(units.total, lang))]
    shown = units.units[:cap]
    for unit in shown:
        if several:
            items = ", ".join(f"({index[k]})" for k in unit.deliverables if k in index)
            lines.append(t("digest.unit.items", lang, name=unit.name, code=unit.code, items=items))
        else:
            lines.append(t("digest.unit", lang, name=unit.name, code=unit.code))
    more = units.total - len(shown)
    if more:
        lines.append(t("digest.more", lang, count=number(more, lang)))
    return lines, bool(more)


def _codes(shortcoming: Shortcoming, cap: int, lang: str) -> str:
    """The units of a shortcoming by name, the code in brackets ("Đảng bộ xã Đông (CS1)")."""
    codes = [t("digest.unit_named", lang, name=u.name, code=u.code) for u in shortcoming.units]
    if len(codes) <= cap:
        return ", ".join(codes)
    if cap == 0:
        return t("digest.codes.more", lang, codes="", count=number(len(codes), lang)).strip()
    return t(
        "digest.codes.more",
        lang,
        codes=", ".join(codes[:cap]),
        count=number(len(codes) - cap, lang),
    )


def _shortcomings(items: Sequence[Shortcoming], cap: int, lang: str) -> list[str]:
    lines = [
        t(
            f"digest.shortcoming.{s.kind}",
            lang,
            share=shortcoming_share(s, lang),
            units=_codes(s, cap, lang),
            **shortcoming_params(s, lang),
        )
        for s in items
        if s.kind in SHORTCOMING_KINDS  # missing reports have their own list
    ]
    if not lines:
        return [t("digest.shortcomings.none", lang)]
    return [t("digest.shortcomings", lang), *lines]


def _campaign(
    campaign: CampaignDigest, data: DigestData, budget: tuple[int, int, int]
) -> tuple[list[str], bool]:
    lang = data.lang
    figures = campaign.figures
    units_cap, codes_cap, _ = budget
    scope_key = "digest.scope.admin" if data.is_admin else "digest.scope.supervisor"
    blocks = [
        [
            _title(figures, lang),
            figures.campaign_name,
            t(scope_key, lang, count=number(campaign.expected, lang)),
            _as_of(figures, lang),
        ],
        *_headline(figures, lang),
        _rates(figures.total, figures.previous.total if figures.previous else None, lang),
        level_table(figures, lang),
    ]
    overdue, cut_overdue = _unit_list("digest.overdue", campaign.overdue, figures, units_cap, lang)
    late, cut_late = _unit_list("digest.late", campaign.late, figures, units_cap, lang)
    blocks += [overdue, late, _shortcomings(campaign.shortcomings, codes_cap, lang)]
    cut = (
        cut_overdue
        or cut_late
        or any(
            len(s.units) > codes_cap for s in campaign.shortcomings if s.kind in SHORTCOMING_KINDS
        )
    )
    return ["\n".join(block) for block in blocks if block], cut


def _unreachable(data: DigestData, cap: int) -> list[str]:
    lang = data.lang
    if not data.unreachable_total:
        return []
    tz = data.campaigns[0].figures.timezone if data.campaigns else DEFAULT_TZ
    lines = [t("digest.unreachable", lang, count=number(data.unreachable_total, lang))]
    shown = data.unreachable[:cap]
    for person in shown:
        role = (
            "digest.role.supervisor" if person.role == ROLE_SUPERVISOR else "digest.role.reporter"
        )
        lines.append(
            t(
                "digest.unreachable.item",
                lang,
                name=person.full_name,
                role=t(role, lang),
                unit=person.unit_name,
                code=person.unit_code,
                date=date_text(local_date(person.since, tz), lang),
            )
        )
    more = data.unreachable_total - len(shown)
    if more:
        lines.append(t("digest.unreachable.more", lang, count=number(more, lang)))
    lines.append(t("digest.unreachable.hint", lang))
    return ["\n".join(lines)]


def _render(data: DigestData, budget: tuple[int, int, int]) -> str:
    blocks: list[str] = []
    cut = False
    for campaign in data.campaigns:
        campaign_blocks, campaign_cut = _campaign(campaign, data, budget)
        blocks += campaign_blocks
        cut = cut or campaign_cut
    if data.pending_reviews:
        count = number(data.pending_reviews, data.lang)
        blocks.append(t("review.digest.pending", data.lang, count=count))
    blocks += _unreachable(data, budget[2])
    if cut:
        blocks.append(t("digest.pointer", data.lang))
    return "\n\n".join(blocks)


def render_digest(data: DigestData, *, limit: int = MAX_CHARS) -> str:
    """The digest text in the person's language, at most `limit` characters."""
    text = ""
    for budget in BUDGETS:
        text = _render(data, budget)
        if len(text) <= limit:
            return text
    tail = "\n" + t("digest.truncated", data.lang)
    return text[: limit - len(tail)].rsplit("\n", 1)[0] + tail
