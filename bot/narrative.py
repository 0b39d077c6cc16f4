"""The draft written report (the article's paragraph), built only from `Figures` and the
shortcomings, so every number in it can be traced back to the data. Sentences come from the
catalog (figures.po)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from babel.numbers import format_decimal

from storage.figures import Figures, GroupFigures, Rate
from storage.i18n import t
from storage.i18n.formatting import date_text, levels_phrase, number, percent, percent_value
from storage.shortcomings import (
    ACTION_PLANS_INCOMPLETE,
    LOW_ESSAY_RATE,
    MISSING_REPORT,
    NO_ACTION_PROGRAM,
    PRESENTER_QUALITY,
    SHORT_SESSION,
    Shortcoming,
)

# "Trên 90%": the article rounds a rate between 90% and 100% down to this floor; we write the
# floor first, in the article's words, and the exact rate after it.
ABOVE_FLOOR = 90


def _rate(rate: Rate, lang: str) -> str:
    return percent(rate.numerator, rate.denominator, lang)


def _rate_above(rate: Rate, lang: str) -> str:
    """`trên 90% (93,5%)` when strictly between 90% and 100%, else the plain rate."""
    text = _rate(rate, lang)
    value = rate.value
    if value is not None and Fraction(ABOVE_FLOOR, 100) < value < 1:
        return t("figures.narrative.above", lang, rate=text, floor=f"{ABOVE_FLOOR}%")
    return text


def _threshold(value: Fraction, lang: str) -> str:
    """A campaign threshold as a percentage without useless decimals: 90%, 92,5%."""
    exact = percent_value(value.numerator, value.denominator) or Decimal(0)
    return f"{format_decimal(exact, format='#,##0.#', locale='en' if lang == 'en' else 'vi')}%"


def _essay_groups(figures: Figures) -> Sequence[GroupFigures]:
    groups = figures.combined or figures.per_level
    return [g for g in groups if g.essay.denominator]


def _figures_paragraph(figures: Figures, lang: str, organisation: str) -> str:
    day = date_text(figures.as_of_date, lang)
    total = figures.total
    if not total.session.expected:
        return t("figures.narrative.no_units", lang, date=day)
    sentences = [
        t(
            "figures.narrative.sessions",
            lang,
            organisation=organisation,
            date=day,
            rate=_rate(total.session.reported_rate, lang),
            reported=number(total.session.reported, lang),
            expected=number(total.session.expected, lang),
        )
    ]
    if total.members:
        sentences.append(
            t(
                "figures.narrative.attendance",
                lang,
                rate=_rate(total.attendance, lang),
                attended=number(total.attended, lang),
                members=number(total.members, lang),
            )
        )
    if total.nonmembers_attended:
        sentences.append(
            t("figures.narrative.nonmembers", lang, count=number(total.nonmembers_attended, lang))
        )
    essay_groups = _essay_groups(figures)
    if essay_groups:
        parts = "; ".join(
            t(
                "figures.narrative.essay_part",
                lang,
                rate=_rate(g.essay, lang),
                levels=levels_phrase(g.levels, lang),
            )
            for g in essay_groups
        )
        sentences.append(t("figures.narrative.essays", lang, parts=parts))
    clauses = []
    if total.program_expected:
        clauses.append(
            t(
                "figures.narrative.programs",
                lang,
                rate=_rate(total.action_program, lang),
                count=number(total.units_with_program, lang),
                expected=number(total.program_expected, lang),
            )
        )
    if total.heads:
        clauses.append(
            t(
                "figures.narrative.plans",
                lang,
                rate=_rate_above(total.action_plan, lang),
                count=number(total.heads_with_plan, lang),
                heads=number(total.heads, lang),
            )
        )
    if clauses:
        sentences.append(t("figures.narrative.by_date", lang, date=day, clauses="; ".join(clauses)))
    return " ".join(sentences)


def _params(item: Shortcoming, lang: str) -> dict[str, str]:
    """The sentence's parameters beyond the count: the campaign's minimum or threshold."""
    if item.kind == SHORT_SESSION:
        return {"min": number(int(item.params["min_session_halfdays"]), lang)}
    if item.kind == LOW_ESSAY_RATE:
        return {"threshold": _threshold(Fraction(item.params["threshold"]), lang)}
    return {}


def _shortcomings_paragraph(shortcomings: Sequence[Shortcoming], lang: str) -> str:
    items: list[str] = []
    by_kind: dict[str, list[Shortcoming]] = {}
    for s in shortcomings:
        by_kind.setdefault(s.kind, []).append(s)
    # In the article's order; the catalog key is the kind's own name.
    for kind in (
        PRESENTER_QUALITY,
        SHORT_SESSION,
        LOW_ESSAY_RATE,
        ACTION_PLANS_INCOMPLETE,
        NO_ACTION_PROGRAM,
    ):
        for s in by_kind.get(kind, []):
            count = number(len(s.units), lang)
            items.append(t(f"figures.shortcomings.{kind}", lang, count=count, **_params(s, lang)))
    missing = {u.code for s in by_kind.get(MISSING_REPORT, []) for u in s.units}
    if missing:
        items.append(
            t("figures.shortcomings.missing_report", lang, count=number(len(missing), lang))
        )
    if not items:
        return t("figures.shortcomings.none", lang)
    return t("figures.shortcomings.intro", lang, items="; ".join(items))


def narrative(
    figures: Figures, shortcomings: Sequence[Shortcoming], *, lang: str = "vi", organisation: str
) -> str:
    """Two paragraphs: what was done (figures, as compiled by `organisation`: the configured
    name, `storage.organisation`), then the shortcomings."""
    done = _figures_paragraph(figures, lang, organisation)
    return f"{done}\n\n{_shortcomings_paragraph(shortcomings, lang)}"
