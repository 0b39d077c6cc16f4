"""The demo's simulated time and its bookkeeping: the shared aware clock, the rate limiter's
virtual monotonic time, one reporter's planned conversation (`Errand`), the run's counters."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.telegram.local import TgUser
from storage.models import Unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class SimClock:
    """The simulated wall clock (aware), shared by the bot, the jobs and the sender."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, day: date, at: time) -> None:
        self.now = datetime.combine(day, at, tzinfo=TZ)


class VirtualTime:
    """Monotonic time for the rate limiter that advances instead of sleeping."""

    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


@dataclass
class Errand:
    """One conversation a reporter will have on a given day."""

    day: date
    hour: int
    person_id: int
    user: TgUser
    unit: Unit
    kind: str  # "report" or "update"
    deliverable_key: str
    answers: dict[str, str]
    typos: dict[str, str] = field(default_factory=dict)
    update_field: str | None = None


@dataclass
class Stats:
    updates: int = 0
    conversations: int = 0
    reports: int = 0
    corrections: int = 0
    rejected_answers: int = 0
    proactive: Counter[str] = field(default_factory=Counter)


@dataclass
class Featured:
    """People whose conversations are written out in full."""

    users: dict[int, str] = field(default_factory=dict)  # telegram id -> role label


def day_month(day: date) -> str:
    return f"{day.day}/{day.month}"
