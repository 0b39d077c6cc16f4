"""How a shortcoming is worded on every channel (written report, /thongke, digest, workbook):
its parameters, and how many units it says it concerns.

The quantifier rule (#13.5), one function (`quantifier`), its shares against the units each
shortcoming was checked over (`Shortcoming.covered`, storage.shortcomings):

- "số ít" (a few) only when the units found are under `FEW_BELOW` (a quarter) of the units checked;
- "một số" (some) only under `SOME_BELOW` (half: never for half of them or more);
- from `SOME_BELOW` on, no word: the count and the share, "54/183 đơn vị (29,5%)" (`share_text`).

A sentence asks for the article's word ("số ít cán bộ, đảng viên ngại viết bài thu hoạch", "một
số đơn vị ..."); "số ít" is weakened to "một số" from `FEW_BELOW` on, and "một số" is never made
"số ít" (it is true of a small share too).
"""

from __future__ import annotations

from fractions import Fraction

from storage.i18n import t
from storage.i18n.formatting import number, percent, threshold_text
from storage.shortcomings import LOW_ESSAY_RATE, MISSING_REPORT, SHORT_SESSION, Shortcoming

FEW_BELOW = Fraction(1, 4)
SOME_BELOW = Fraction(1, 2)
# The words, as catalog keys: figures.quantifier.few / figures.quantifier.some.
FEW = "few"
SOME = "some"


def quantifier(count: int, covered: int, word: str = SOME) -> str | None:
    """The word (`FEW` or `SOME`) a sentence about `count` of `covered` units may use, `word`
    weakened as far as the share requires; None when it must write the count and the share."""
    if count <= 0 or covered <= 0 or count > covered:
        return None
    share = Fraction(count, covered)
    if word == FEW and share < FEW_BELOW:
        return FEW
    if share < SOME_BELOW:
        return SOME
    return None


def quantifier_text(word: str, lang: str) -> str:
    """`số ít` / `một số` (`a few` / `some`)."""
    return t(f"figures.quantifier.{word}", lang)


def share_text(count: int, covered: int, lang: str) -> str:
    """`54/183 đơn vị (29,5%)` / `54 of 183 units (29.5%)`."""
    return t(
        "figures.share.units",
        lang,
        count=number(count, lang),
        covered=number(covered, lang),
        percent=percent(count, covered, lang),
    )


def shortcoming_share(item: Shortcoming, lang: str) -> str:
    """The units found out of the units checked, as `share_text`."""
    return share_text(len(item.units), item.covered, lang)


def shortcoming_params(item: Shortcoming, lang: str) -> dict[str, str]:
    """A shortcoming's own sentence parameters: the campaign's minimum session length (`min`),
    its essay threshold (`threshold`), the deliverable not reported (`name`)."""
    if item.kind == SHORT_SESSION:
        return {"min": number(int(item.params["min_session_halfdays"]), lang)}
    if item.kind == LOW_ESSAY_RATE:
        return {"threshold": threshold_text(Fraction(item.params["threshold"]), lang)}
    if item.kind == MISSING_REPORT:
        english = item.params["name_en"] if lang == "en" else ""
        return {"name": english or item.params["name_vi"]}
    return {}
