"""The quantifier rule (#13.5): "số ít" only under a quarter of the units checked, "một số" only
under half, else the count and the share; at its boundaries and for every count."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.shortcoming_text import (
    FEW,
    FEW_BELOW,
    SOME,
    SOME_BELOW,
    quantifier,
    quantifier_text,
    share_text,
)


@pytest.mark.parametrize(
    ("count", "covered", "asked", "said"),
    [
        (1, 6, FEW, FEW),  # 16,7%: the article's essays
        (24, 100, FEW, FEW),  # 24%: just under a quarter
        (1, 4, FEW, SOME),  # 25% is not "số ít"
        (25, 100, FEW, SOME),
        (54, 183, FEW, SOME),  # 29,5%: "một số", never "số ít" (#13)
        (49, 100, FEW, SOME),
        (1, 2, FEW, None),  # half: the count and the share
        (1, 2, SOME, None),
        (2, 5, SOME, SOME),  # 40%
        (3, 5, SOME, None),  # 60%: most of them
        (1, 100, SOME, SOME),  # "một số" is never made "số ít"
        (1, 1, SOME, None),
        (7, 7, FEW, None),
        (0, 5, SOME, None),  # nothing found: nothing to quantify
        (1, 0, SOME, None),  # no base to take a share of
        (6, 5, SOME, None),
    ],
)
def test_the_rule_at_its_boundaries(count: int, covered: int, asked: str, said: str | None) -> None:
    assert quantifier(count, covered, asked) == said


@given(st.integers(min_value=1, max_value=5_000), st.data())
def test_a_word_only_below_its_share(covered: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=1, max_value=covered))
    share = Fraction(count, covered)
    few, some = quantifier(count, covered, FEW), quantifier(count, covered, SOME)
    assert (few == FEW) == (share < FEW_BELOW)
    assert (few == SOME) == (FEW_BELOW <= share < SOME_BELOW)
    assert (some == SOME) == (share < SOME_BELOW)
    assert (few is None) == (some is None) == (share >= SOME_BELOW)


def test_words_and_share_in_both_languages() -> None:
    assert (quantifier_text(FEW, "vi"), quantifier_text(SOME, "vi")) == ("số ít", "một số")
    assert (quantifier_text(FEW, "en"), quantifier_text(SOME, "en")) == ("a few", "some")
    assert share_text(54, 183, "vi") == "54/183 đơn vị (29,5%)"
    assert share_text(1234, 2000, "en") == "1,234 of 2,000 units (61.7%)"
    assert share_text(5, 5, "vi") == "5/5 đơn vị (100%)"
