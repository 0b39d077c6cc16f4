"""Weekly caps per person over all campaigns: the most reminders one reporter, and the most
escalation lists one supervisor, is queued in a week (local, from Monday), whichever campaigns
and units they come from. A reminder on its deadline day is told even past the cap.

Counted from the outbox (every campaign's rows, today's too), so a pass run again the same day
decides the same: the rows it already queued come first and use their places.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Outbox
from storage.outbox import STATUS_WITHDRAWN

_CHUNK = 500


def week_start(today: date, tz: str) -> datetime:
    """Monday 00:00 local of `today`'s week."""
    monday = today - timedelta(days=today.weekday())
    return datetime.combine(monday, time(0), tzinfo=ZoneInfo(tz))


@dataclass(frozen=True, slots=True)
class Capped:
    """A message to be queued under a weekly cap."""

    key: str
    kind: str
    person_id: int
    cap: int
    exempt: bool  # a deadline today: told even past the cap
    since: datetime  # the start of the person's week


async def _queued(
    session: AsyncSession, items: Sequence[Capped]
) -> dict[tuple[int, str], list[tuple[str, datetime]]]:
    """(person, kind) -> (key, created at) of the rows queued since the earliest week start;
    withdrawn rows never reached anyone and do not count."""
    since = min(item.since for item in items)
    kinds = sorted({item.kind for item in items})
    people = sorted({item.person_id for item in items})
    found: dict[tuple[int, str], list[tuple[str, datetime]]] = defaultdict(list)
    for start in range(0, len(people), _CHUNK):
        rows = await session.execute(
            select(
                col(Outbox.person_id), col(Outbox.kind), col(Outbox.key), col(Outbox.created_at)
            ).where(
                col(Outbox.person_id).in_(people[start : start + _CHUNK]),
                col(Outbox.kind).in_(kinds),
                col(Outbox.created_at) >= since,
                col(Outbox.status) != STATUS_WITHDRAWN,
            )
        )
        for person_id, kind, key, created_at in rows.all():
            if person_id is not None:
                found[(int(person_id), kind)].append((key, created_at))
    return found


async def within_weekly_caps(*, session: AsyncSession, items: Sequence[Capped]) -> set[str]:
    """The keys of `items` that may be queued: per person and kind, what was queued this week
    (any campaign) and what is chosen now stay within the smallest cap among the items; a row
    already queued keeps its place, then deadline-day items (always told), then by key."""
    if not items:
        return set()
    queued = await _queued(session, items)
    groups: dict[tuple[int, str], list[Capped]] = defaultdict(list)
    for item in items:
        groups[(item.person_id, item.kind)].append(item)
    allowed: set[str] = set()
    for group_key, group in groups.items():
        since = min(item.since for item in group)
        this_week = {key for key, at in queued.get(group_key, ()) if at >= since}
        room = min(item.cap for item in group) - len(this_week)
        for item in sorted(group, key=lambda i: (i.key not in this_week, not i.exempt, i.key)):
            if item.key in this_week:
                allowed.add(item.key)  # already queued: nothing new either way
            elif item.exempt or room > 0:
                allowed.add(item.key)
                room -= 1
    return allowed
