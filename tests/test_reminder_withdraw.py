"""A reminder stops the day the unit reports (#14.4): a reminder or nudge already queued when the
unit reports is withdrawn by the sender, not sent; the other units still get theirs."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import select
from sqlmodel import col

from scheduler.jobs import reminder_pass
from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from storage.db import Database
from storage.models import Outbox
from tests.sched_fixtures import (
    FakeChannel,
    FakeClock,
    JumpTime,
    World,
    build_world,
    confirm_report,
    local,
    nudge,
)

PLANNED = local(2016, 6, 9, 8)  # the day before the deadline: every cell is reminded
REPORTED = local(2016, 6, 9, 8, 5)
DRAIN = local(2016, 6, 9, 8, 10)


async def _drain(db: Database) -> tuple[FakeChannel, int]:
    channel, jump = FakeChannel(), JumpTime()
    limiter = RateLimiter(rate=25, clock=jump, sleep=jump.sleep)
    sender = Sender(db, [channel], limiter, clock=FakeClock(DRAIN), rng=random.Random(7))
    stats = await sender.drain_once(DRAIN)
    return channel, stats.withdrawn


async def _report(db: Database, world: World, deliverable: str, unit: str) -> None:
    async with db.write() as session:
        await confirm_report(session, world.deliverables[deliverable], world.units[unit], REPORTED)


async def _statuses(db: Database) -> dict[str, str]:
    async with db.read() as session:
        rows = await session.execute(select(col(Outbox.key), col(Outbox.status)))
    return {key: status for key, status in rows.all()}


async def test_a_queued_reminder_is_withdrawn_when_the_unit_reports_the_same_day(
    db: Database,
) -> None:
    world = await build_world(db)
    assert await reminder_pass(db, PLANNED) == 3  # r1 (CS1), r2 (CS2), r3 (CS3)
    await _report(db, world, "hoi_nghi", "CS1")
    channel, withdrawn = await _drain(db)
    assert channel.texts_to("101") == []  # r1's unit has reported
    assert len(channel.texts_to("102")) == 1 and len(channel.texts_to("103")) == 1
    assert withdrawn == 1
    statuses = await _statuses(db)
    assert statuses[f"remind:{world.pid('r1')}:{world.uid('CS1')}:2016-06-09"] == "withdrawn"
    assert list(statuses.values()).count("sent") == 2
    _, again = await _drain(db)
    assert again == 0 and (await _statuses(db)) == statuses  # withdrawn for good


async def test_a_reminder_still_asking_for_something_owed_goes_out(db: Database) -> None:
    world = await build_world(
        db,
        deliverables=[
            ("hoi_nghi", "Hội nghị học tập", {"co_so": date(2016, 6, 10)}),
            ("thu_hoach", "Bài thu hoạch", {"co_so": date(2016, 6, 12)}),
        ],
    )
    assert await reminder_pass(db, PLANNED) == 3
    await _report(db, world, "hoi_nghi", "CS1")  # the essays are still owed
    channel, withdrawn = await _drain(db)
    assert withdrawn == 0
    (text,) = channel.texts_to("101")
    assert "Bài thu hoạch" in text


async def test_a_nudge_is_withdrawn_when_the_unit_reports_before_it_goes(db: Database) -> None:
    world = await build_world(db)
    outcome = await nudge(db, world, "CS2", "s_h1", local(2016, 6, 9, 7, 30))  # after quiet hours
    assert outcome.queued
    await _report(db, world, "hoi_nghi", "CS2")
    channel, withdrawn = await _drain(db)
    assert (channel.texts_to("102"), withdrawn) == ([], 1)
