"""The draft written report (the article's paragraph), built only from `Figures` and the
shortcomings, so every number in it can be traced back to the data. Sentences come from the
catalog (figures.po); a shortcoming's quantifier follows its share (storage.shortcoming_text)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from storage.figures import Figures, GroupFigures, Rate
from storage.i18n import t
from storage.i18n.formatting import date_text, figure_text, levels_phrase, number, with_figures
from storage.shortcoming_text import (
    FEW,
    SOME,
    quantifier,
    quantifier_text,
    shortcoming_params,
    shortcoming_share,
)
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
# The article's shortcomings in its order, each with its word ("chất lượng một số báo cáo viên",
# "số ít cán bộ, đảng viên ..."), which the share may weaken or replace by the count.
ARTICLE_WORDS = {
    PRESENTER_QUALITY: SOME,
    SHORT_SESSION: SOME,
    LOW_ESSAY_RATE: FEW,
    ACTION_PLANS_INCOMPLETE: SOME,
}


def _rate_above(rate: Rate, lang: str) -> str:
    """`trên 90% (93,5%)` when strictly between 90% and 100%, else the plain rate."""
    text = figure_text(rate, lang)
    value = rate.value
    if value is not None and Fraction(ABOVE_FLOOR, 100) < value < 1:
        return t("figures.narrative.above", lang, rate=text, floor=f"{ABOVE_FLOOR}%")
    return text


def _essay_groups(figures: Figures) -> Sequence[GroupFigures]:
    groups = figures.combined or figures.per_level
    return [g for g in groups if g.essay.denominator]


def _stated(key: str, lang: str, rate: Rate, *, shown: str | None = None, **extra: str) -> str:
    """A sentence stating `rate` (or its `shown` wording) with the counts it is made of:
    `… {rate} ({count}/{of} …)`."""
    return with_figures(
        key, lang, rate=shown or rate, count=rate.numerator, of=rate.denominator, **extra
    )


def _figures_paragraph(figures: Figures, lang: str, organisation: str) -> str:
    day = date_text(figures.as_of_date, lang)
    total = figures.total
    # Units ("các chi, đảng bộ"): every expected unit, a cell and its committee both, as the
    # digest counts them (`GroupFigures.units`); members below: none counted twice.
    if not total.unit_session.expected:
        return t("figures.narrative.no_units", lang, date=day)
    reported = total.unit_session.reported_rate
    sentences = [
        _stated("figures.narrative.sessions", lang, reported, organisation=organisation, date=day)
    ]
    if total.members:
        sentences.append(_stated("figures.narrative.attendance", lang, total.attendance))
    if total.nonmembers_attended:
        sentences.append(
            with_figures("figures.narrative.nonmembers", lang, count=total.nonmembers_attended)
        )
    if essay_groups := _essay_groups(figures):
        parts = "; ".join(
            with_figures(
                "figures.narrative.essay_part",
                lang,
                rate=g.essay,
                levels=levels_phrase(g.levels, lang),
            )
            for g in essay_groups
        )
        sentences.append(t("figures.narrative.essays", lang, parts=parts))
    clauses = []
    if total.program_units_expected:
        clauses.append(_stated("figures.narrative.programs", lang, total.unit_program))
    if total.heads:
        plans = total.action_plan
        shown = _rate_above(plans, lang)
        clauses.append(_stated("figures.narrative.plans", lang, plans, shown=shown))
    if clauses:
        sentences.append(t("figures.narrative.by_date", lang, date=day, clauses="; ".join(clauses)))
    return " ".join(sentences)


def _shortcoming(item: Shortcoming, lang: str) -> str:
    """One article shortcoming: its word while the share allows it, else the count and the
    share (storage.shortcoming_text.quantifier)."""
    params = shortcoming_params(item, lang)
    word = quantifier(len(item.units), item.covered, ARTICLE_WORDS[item.kind])
    if word is None:
        share = shortcoming_share(item, lang)
        return t(f"figures.shortcomings.{item.kind}.counted", lang, share=share, **params)
    return t(
        f"figures.shortcomings.{item.kind}",
        lang,
        quantifier=quantifier_text(word, lang),
        count=number(len(item.units), lang),
        **params,
    )


def _shortcomings_paragraph(shortcomings: Sequence[Shortcoming], lang: str) -> str:
    by_kind: dict[str, list[Shortcoming]] = {}
    for s in shortcomings:
        by_kind.setdefault(s.kind, []).append(s)
    items = [_shortcoming(s, lang) for kind in ARTICLE_WORDS for s in by_kind.get(kind, [])]
    # Then what the article has no word for: counts only.
    for s in by_kind.get(NO_ACTION_PROGRAM, []):
        items.append(
            t("figures.shortcomings.no_action_program", lang, count=number(len(s.units), lang))
        )
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
