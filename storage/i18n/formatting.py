"""Numbers, percentages, dates and level names the way the reader writes them (Babel).

Vietnamese: `94,8%`, `1.234`, `30/9/2016`, "cấp tỉnh và cấp huyện". English: `94.8%`, `1,234`,
`30 Sep 2016`, "province level and district level".

Percentages have one decimal, rounded half up (exact decimal arithmetic, never float rounding).
The ",0" is dropped only when the rate is exactly 100% or exactly 0% (as the article writes
"100%"); 9,999 of 10,000 rounds to "100,0%", which tells the reader it is not everyone. A rate
with nothing to divide by is "—".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from typing import Protocol

from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_decimal, get_group_symbol, get_minus_sign_symbol

from storage.i18n import t

DASH = "—"
ONE_DECIMAL = Decimal("0.1")


class Named(Protocol):
    @property
    def name_vi(self) -> str: ...

    @property
    def name_en(self) -> str: ...


class Labelled(Protocol):
    @property
    def label_vi(self) -> str: ...

    @property
    def label_en(self) -> str: ...


def _locale(lang: str) -> str:
    return "en" if lang == "en" else "vi"


def percent_value(numerator: int, denominator: int) -> Decimal | None:
    """The percentage rounded half up to one decimal, or None when the denominator is 0."""
    if not denominator:
        return None
    with localcontext() as ctx:
        # Enough digits that the quotient is exact wherever a tie (x,x5) is possible.
        ctx.prec = 60
        exact = Decimal(numerator) * 100 / Decimal(denominator)
        return exact.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def percent(numerator: int, denominator: int, lang: str = "vi") -> str:
    """`94,8%` / `94.8%`; `100%` and `0%` only when exact; `—` when the denominator is 0."""
    value = percent_value(numerator, denominator)
    if value is None:
        return DASH
    if numerator == denominator or numerator == 0:
        return f"{format_decimal(value, format='#,##0', locale=_locale(lang))}%"
    return f"{format_decimal(value, format='#,##0.0', locale=_locale(lang))}%"


def number(n: int, lang: str = "vi") -> str:
    """`1.234` in Vietnamese, `1,234` in English."""
    if type(n) is not int:  # Babel for anything but a plain integer
        return format_decimal(n, format="#,##0", locale=_locale(lang))
    # The same digits as Babel's "#,##0" with the locale's symbols, without parsing the
    # pattern on every call (prompts and receipts format numbers on every turn).
    group, minus = _integer_symbols(_locale(lang))
    digits = f"{abs(n):,}".replace(",", group)
    return f"{minus}{digits}" if n < 0 else digits


class Ratio(Protocol):
    """A rate (storage.figures.Rate): written as its percentage."""

    @property
    def numerator(self) -> int: ...

    @property
    def denominator(self) -> int: ...


def threshold_text(value: Ratio, lang: str = "vi") -> str:
    """A campaign threshold (9/10) as a percentage without useless decimals: `90%`, `92,5%`."""
    exact = percent_value(value.numerator, value.denominator) or Decimal(0)
    return f"{format_decimal(exact, format='#,##0.#', locale=_locale(lang))}%"


def figure_text(value: Ratio | int | str, lang: str = "vi") -> str:
    """A figure the one way it is written: a whole number grouped (`1.234`), a rate as its
    percentage (`94,8%`), text as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return number(value, lang)
    return percent(value.numerator, value.denominator, lang)


def with_figures(key: str, lang: str, /, **values: Ratio | int | str) -> str:
    """The catalog sentence `key` with each of its figures written by `figure_text`."""
    return t(key, lang, **{name: figure_text(value, lang) for name, value in values.items()})


@lru_cache(maxsize=4)
def _integer_symbols(locale: str) -> tuple[str, str]:
    return get_group_symbol(locale), get_minus_sign_symbol(locale)


@lru_cache(maxsize=4096)
def date_text(day: date, lang: str = "vi") -> str:
    """`30/9/2016` in Vietnamese (no leading zeros), `30 Sep 2016` in English."""
    if lang == "en":
        return format_date(day, "d MMM y", locale="en")
    return format_date(day, "d/M/y", locale="vi")


def value_text(value: object, lang: str = "vi") -> str:
    """An answer's value as the reader writes it: yes/no, a whole number, a date, else as is."""
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no", lang)
    if isinstance(value, int):
        return number(value, lang)
    if isinstance(value, date):
        return date_text(value, lang)
    return str(value)


def date_vi(day: date) -> str:
    return date_text(day, "vi")


def document_date(day: date, place: str, lang: str = "vi") -> str:
    """A Party document's place and date: "Nghệ An, ngày 03 tháng 02 năm 2016". As the Party's
    format guide writes them, a day below 10 and the months 1 and 2 take a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return t(
        "document.place_date", lang, place=place, day=f"{day.day:02d}", month=month, year=day.year
    )


def level_label(level: Labelled, lang: str = "vi") -> str:
    """The level's own label ("Cấp tỉnh"), from its row."""
    return level.label_en if lang == "en" and level.label_en else level.label_vi


def name_in(item: Named, lang: str = "vi") -> str:
    """A deliverable's (or anything's) name in the reader's language; the Vietnamese name when
    it has no English one."""
    return item.name_en if lang == "en" and item.name_en else item.name_vi


def in_sentence(label: str) -> str:
    """A label as a sentence's inner words: "Cấp tỉnh" -> "cấp tỉnh"."""
    return label[:1].lower() + label[1:]


def levels_phrase(levels: Iterable[Labelled], lang: str = "vi") -> str:
    """Levels named inside a sentence: "cấp tỉnh và cấp huyện", "cấp cơ sở"."""
    labels = [in_sentence(level_label(level, lang)) for level in levels]
    if not labels:
        return t("figures.levels.none", lang)
    return format_list(labels, locale=_locale(lang))
