"""Days nobody is reminded: Saturdays, Sundays, Vietnam's public holidays (the `holidays`
library, Tết by the lunar calendar included) and the campaign's own extra days off."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from functools import lru_cache

WEEKEND = frozenset({5, 6})  # Saturday, Sunday


@lru_cache(maxsize=32)
def public_holidays(year: int) -> frozenset[date]:
    """Vietnam's public holidays of `year`, observed and substitute days included."""
    import holidays  # imported on first use: nothing heavy at import time

    return frozenset(holidays.country_holidays("VN", years=year).keys())


def is_day_off(day: date, extra: Collection[date] = ()) -> bool:
    return day.weekday() in WEEKEND or day in public_holidays(day.year) or day in extra
