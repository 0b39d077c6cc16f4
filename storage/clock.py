"""Time helpers. Logic takes `now` as a parameter; only the composition root reads the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, timezone-aware. Injected into jobs and handlers, never called by logic."""
    return datetime.now(UTC)


def require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: every timestamp must carry a timezone")
    return value


def local_date(moment: datetime, tz: str | ZoneInfo) -> date:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return require_aware(moment).astimezone(zone).date()


def end_of_day(day: date, tz: str | ZoneInfo) -> datetime:
    """The end of `day` in `tz` as an aware UTC datetime (exclusive bound: the next midnight)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
