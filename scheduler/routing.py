"""Where and when an outbox row may go: its chat (the row's own channel/chat_id, else the
person's preferred channel, else the identity seen last, never a forgotten person), and the end
of the quiet hours a reminder row carries."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from storage.db import Database
from storage.models import ChatIdentity, Outbox, Person
from storage.reminders import parse_hhmm, quiet_hours_end

log = logging.getLogger(__name__)

NO_IDENTITY = "no chat identity"
FORGOTTEN = "person forgotten"

Route = tuple[str, str]  # (channel name, chat id)


async def route_rows(
    db: Database, rows: list[Outbox], channels: Mapping[str, object]
) -> dict[int, Route | str]:
    """Row id -> (channel, chat id), or the reason it cannot be delivered."""
    routes: dict[int, Route | str] = {}
    person_ids = {r.person_id for r in rows if r.person_id is not None and not r.chat_id}
    identities: dict[int, list[ChatIdentity]] = defaultdict(list)
    preferred: dict[int, str | None] = {}
    forgotten: set[int] = set()
    if person_ids:
        async with db.read() as session:
            people = await session.execute(
                select(
                    col(Person.id), col(Person.preferred_channel), col(Person.forgotten_at)
                ).where(col(Person.id).in_(sorted(person_ids)))
            )
            for pid, channel, forgotten_at in people.all():
                assert pid is not None
                preferred[pid] = channel
                if forgotten_at is not None:
                    forgotten.add(pid)
            found = await session.execute(
                select(ChatIdentity).where(
                    col(ChatIdentity.person_id).in_(sorted(person_ids)),
                    col(ChatIdentity.chat_id).is_not(None),
                )
            )
            for identity in found.scalars():
                identities[identity.person_id].append(identity)
    for row in rows:
        assert row.id is not None
        if row.chat_id:
            channel = row.channel or next(iter(channels), "")
            routes[row.id] = (channel, row.chat_id)
            continue
        assert row.person_id is not None
        if row.person_id in forgotten:
            routes[row.id] = FORGOTTEN
            continue
        usable = [i for i in identities.get(row.person_id, []) if i.channel in channels]
        if row.channel:
            usable = [i for i in usable if i.channel == row.channel]
        if not usable:
            routes[row.id] = NO_IDENTITY
            continue
        pref = preferred.get(row.person_id)
        usable.sort(
            key=lambda i: (
                i.channel == pref,
                i.last_seen_at or i.bound_at,
            ),
            reverse=True,
        )
        best = usable[0]
        assert best.chat_id is not None
        routes[row.id] = (best.channel, best.chat_id)
    return routes


def quiet_until(now: datetime, row: Outbox) -> datetime | None:
    """When the quiet hours in the row's payload end (None: no quiet hours, or not now)."""
    quiet: Any = row.payload.get("quiet")
    if not isinstance(quiet, dict):
        return None
    try:
        return quiet_hours_end(
            now,
            tz=str(quiet["tz"]),
            start=parse_hhmm(quiet["start"], "quiet"),
            end=parse_hhmm(quiet["end"], "quiet"),
        )
    except (KeyError, ValueError) as exc:
        log.warning("outbox row %s: bad quiet hours %r: %s", row.id, quiet, exc)
        return None
