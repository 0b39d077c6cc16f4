"""The scheduled passes. Each takes `now` (from the injected clock) and only writes outbox rows,
idempotent by key, so a pass may run any number of times, late, or in two processes at once.

Catch-up semantics (what makes downtime safe — `scheduler.runner.catch_up` runs all passes on
start):
- reminders/escalations: a pass late on the same local day, inside the send window, sends that
  day's messages; a day whose window was missed entirely is skipped and logged (the next day's
  plan covers what is still owed);
- digest: the key is the ISO week of the latest scheduled digest time (Monday 07:30 local by
  default) at or before `now`, so a pass run late — any time before the next scheduled digest —
  sends that week's digest exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.reminders import (
    PlannedMessage,
    enqueue_planned,
    missed_reminders,
    plan_escalations,
    plan_reminders,
)
from storage import outbox
from storage.assignments import digest_recipients
from storage.campaign_status import open_campaigns
from storage.clock import require_aware
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import Campaign, Person
from storage.reminders import parse_hhmm, quiet_hours_end

log = logging.getLogger(__name__)

KIND_DIGEST = "digest"
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Recipients composed per read transaction (a batch composer gets them in one call), and outbox
# rows per INSERT (a digest row carries its PNG, some 35 KB).
DIGEST_CHUNK = 1_000
DIGEST_ROWS_PER_INSERT = 100

DigestComposer = Callable[[AsyncSession, Person, datetime], Awaitable[OutgoingMessage | None]]


@runtime_checkable
class BatchDigestComposer(Protocol):
    """A `DigestComposer` that also composes many people at once (`scheduler.digest.
    compose_digest`): `many` returns the messages by person id, leaving out who gets none."""

    def __call__(
        self, session: AsyncSession, person: Person, now: datetime
    ) -> Awaitable[OutgoingMessage | None]: ...

    def many(
        self, session: AsyncSession, people: Sequence[Person], now: datetime
    ) -> Awaitable[Mapping[int, OutgoingMessage]]: ...


async def _compose(
    composer: DigestComposer, session: AsyncSession, people: Sequence[Person], now: datetime
) -> Mapping[int, OutgoingMessage | None]:
    if isinstance(composer, BatchDigestComposer):
        return await composer.many(session, people, now)
    return {p.id: await composer(session, p, now) for p in people if p.id is not None}


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When the weekly digest goes out: `weekday` (0 = Monday) at `at`, local time in `tz`."""

    tz: str = "Asia/Ho_Chi_Minh"
    weekday: int = 0
    at: time = time(7, 30)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)

    @classmethod
    def from_definition(cls, definition: dict[str, Any] | None, tz: str) -> DigestSchedule:
        """The `digest: {weekday: monday, time: "07:30"}` block of a stored campaign definition."""
        block = ((definition or {}).get("campaign") or {}).get("digest") or {}
        weekday = str(block.get("weekday", "monday")).lower()
        if weekday not in WEEKDAY_NAMES:
            raise ValueError(f"digest.weekday: unknown day {weekday!r}")
        return cls(
            tz=tz,
            weekday=WEEKDAY_NAMES.index(weekday),
            at=parse_hhmm(block.get("time", "07:30"), "digest.time"),
        )

    def period_start(self, now: datetime) -> datetime:
        """The latest scheduled digest time at or before `now` (aware, in `tz`)."""
        zone = ZoneInfo(self.tz)
        local = require_aware(now).astimezone(zone)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        start = datetime.combine(day, self.at, tzinfo=zone)
        if start > local:
            start = datetime.combine(day - timedelta(days=7), self.at, tzinfo=zone)
        return start

    def next_time(self, now: datetime) -> datetime:
        start = self.period_start(now)
        return datetime.combine(start.date() + timedelta(days=7), self.at, tzinfo=start.tzinfo)

    def week_label(self, now: datetime) -> str:
        iso = self.period_start(now).date().isocalendar()
        return f"{iso.year}-W{iso.week:02d}"

    def key(self, person_id: int, now: datetime) -> str:
        return f"digest:{person_id}:{self.week_label(now)}"


async def _open_campaigns(db: Database) -> list[Campaign]:
    async with db.read() as session:
        return await open_campaigns(session=session)


async def _planned_pass(
    db: Database,
    now: datetime,
    planner: Callable[..., Awaitable[list[PlannedMessage]]],
    label: str,
) -> int:
    planned: list[PlannedMessage] = []
    for campaign in await _open_campaigns(db):
        try:
            async with db.read() as session:
                planned += await planner(session=session, campaign=campaign, now=now)
        except ValueError as exc:  # a bad `reminders` block in the campaign definition
            log.error("campaign %s: %s skipped: %s", campaign.reference, label, exc)
    if not planned:
        return 0
    async with db.write() as session:
        new = await enqueue_planned(session=session, planned=planned, now=now)
    log.info("%s pass: %d planned, %d new", label, len(planned), len(new))
    return len(new)


async def reminder_pass(db: Database, now: datetime, *, report_missed: bool = False) -> int:
    """Queue today's reminders for every open campaign; returns how many rows were new. With
    `report_missed` (on start), yesterday's reminders that were never queued are logged."""
    require_aware(now)
    if report_missed:
        for campaign in await _open_campaigns(db):
            try:
                async with db.read() as session:
                    missed = await missed_reminders(session=session, campaign=campaign, now=now)
            except ValueError as exc:
                log.error("campaign %s: %s", campaign.reference, exc)
                continue
            if missed:
                log.warning(
                    "campaign %s: %d reminders of yesterday were missed (bot down) and are "
                    "skipped; today's plan covers what is still owed",
                    campaign.reference,
                    len(missed),
                )
    return await _planned_pass(db, now, plan_reminders, "reminder")


async def escalation_pass(db: Database, now: datetime) -> int:
    """Queue today's escalations to supervisors/admins; returns how many rows were new."""
    return await _planned_pass(db, require_aware(now), plan_escalations, "escalation")


async def digest_pass(
    db: Database,
    now: datetime,
    composer: DigestComposer,
    *,
    schedule: DigestSchedule | None = None,
) -> int:
    """Queue this period's digest for every supervisor and admin who has not had it; returns how
    many rows were new. Only people without a row are composed (composing is the costly part),
    `DIGEST_CHUNK` per read transaction, in one call when the composer is a
    `BatchDigestComposer`."""
    schedule = schedule or DigestSchedule()
    require_aware(now)
    wait = quiet_hours_end(now, tz=schedule.tz, start=schedule.quiet_start, end=schedule.quiet_end)
    not_before = wait or now
    if not_before >= schedule.next_time(now):
        log.info("digest pass: the next scheduled digest supersedes this one; skipped")
        return 0
    quiet = {
        "tz": schedule.tz,
        "start": schedule.quiet_start.strftime("%H:%M"),
        "end": schedule.quiet_end.strftime("%H:%M"),
    }
    async with db.read() as session:
        people = await digest_recipients(session=session)
        keys = {p.id: schedule.key(p.id, now) for p in people if p.id is not None}
        done = await outbox.existing_keys(session=session, keys=list(keys.values()))
    todo = [p for p in people if p.id is not None and keys[p.id] not in done]
    new = 0
    for start in range(0, len(todo), DIGEST_CHUNK):
        chunk = todo[start : start + DIGEST_CHUNK]
        async with db.read() as session:
            messages = await _compose(composer, session, chunk, now)
        rows = []
        for person in chunk:
            assert person.id is not None
            message = messages.get(person.id)
            if message is None:
                continue
            payload = message.to_payload()
            payload["quiet"] = quiet
            rows.append(
                {
                    "key": keys[person.id],
                    "kind": KIND_DIGEST,
                    "person_id": person.id,
                    "payload": payload,
                    "not_before": not_before,
                }
            )
        if rows:
            async with db.write() as session:
                for first in range(0, len(rows), DIGEST_ROWS_PER_INSERT):
                    part = rows[first : first + DIGEST_ROWS_PER_INSERT]
                    new += len(await outbox.enqueue_many(session=session, rows=part, now=now))
    log.info("digest pass %s: %d recipients, %d new", schedule.week_label(now), len(people), new)
    return new
