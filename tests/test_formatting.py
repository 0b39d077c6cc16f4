"""Vietnamese (and English) numbers, percentages, dates and level names."""

from __future__ import annotations

from datetime import date

import pytest
from babel.numbers import format_decimal

from storage.figures import LevelInfo
from storage.i18n.formatting import date_text, date_vi, level_label, levels_phrase, number, percent

TINH = LevelInfo("tinh", "Cấp tỉnh", "Province level", 1)
HUYEN = LevelInfo("huyen", "Cấp huyện", "District level", 2)
CO_SO = LevelInfo("co_so", "Cấp cơ sở", "Grassroots level", 3)


@pytest.mark.parametrize(
    ("numerator", "denominator", "vi", "en"),
    [
        (948, 1000, "94,8%", "94.8%"),
        (927, 1000, "92,7%", "92.7%"),
        (1897, 2000, "94,9%", "94.9%"),  # 94,85 exactly: half up, not half even (94,8)
        (1895, 2000, "94,8%", "94.8%"),  # 94,75 exactly: half up to 94,8
        (1, 8, "12,5%", "12.5%"),
        (1, 3, "33,3%", "33.3%"),
        (2, 3, "66,7%", "66.7%"),
        (5, 5, "100%", "100%"),
        (0, 7, "0%", "0%"),
        (9, 10, "90,0%", "90.0%"),
        (9999, 10000, "100,0%", "100.0%"),  # rounds to 100 but is not everyone
        (1, 2000, "0,1%", "0.1%"),  # 0,05 half up
        (1, 2001, "0,0%", "0.0%"),  # not zero, but under 0,05
        (0, 0, "—", "—"),
        (3, 0, "—", "—"),
    ],
)
def test_percent(numerator: int, denominator: int, vi: str, en: str) -> None:
    assert percent(numerator, denominator, "vi") == vi
    assert percent(numerator, denominator, "en") == en


def test_percent_over_a_thousand_uses_grouping() -> None:
    assert percent(12345, 1000, "vi") == "1.234,5%"


def test_numbers() -> None:
    assert number(1234, "vi") == "1.234"
    assert number(1234, "en") == "1,234"
    assert number(5_000_000, "vi") == "5.000.000"
    assert number(7, "vi") == "7"
    assert number(-1234, "vi") == "-1.234"
    assert number(0, "en") == "0"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_numbers_read_as_babel_writes_them(lang: str) -> None:
    """The integer fast path writes exactly what Babel's "#,##0" pattern writes."""
    locale = "en" if lang == "en" else "vi"
    for n in [0, 1, -1, 999, 1000, -1000, 12_345, 999_999, 1_000_000, -987_654_321, 10**12]:
        assert number(n, lang) == format_decimal(n, format="#,##0", locale=locale)


def test_dates() -> None:
    assert date_vi(date(2016, 9, 30)) == "30/9/2016"
    assert date_vi(date(2016, 6, 5)) == "5/6/2016"
    assert date_text(date(2016, 9, 30), "en") == "30 Sep 2016"


def test_levels() -> None:
    assert level_label(TINH, "vi") == "Cấp tỉnh"
    assert level_label(TINH, "en") == "Province level"
    assert levels_phrase([TINH, HUYEN], "vi") == "cấp tỉnh và cấp huyện"
    assert levels_phrase([TINH, HUYEN, CO_SO], "vi") == "cấp tỉnh, cấp huyện và cấp cơ sở"
    assert levels_phrase([CO_SO], "vi") == "cấp cơ sở"
    assert levels_phrase([TINH, HUYEN], "en") == "province level and district level"
    assert levels_phrase([], "vi") == "chưa có cấp nào"
