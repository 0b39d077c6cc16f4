"""The scheduled passes and their wiring: idempotent, safe after downtime, safe twice over."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from scheduler.jobs import DigestSchedule, digest_pass, escalation_pass, reminder_pass
from scheduler.runner import (
    JOB_DIGEST,
    JOB_DIGEST_RECONCILE,
    JOB_ESCALATIONS,
    JOB_REMINDERS,
    build_scheduler,
    catch_up,
    digest_job_id,
    load_digest_schedule,
    load_digest_schedules,
    reconcile_digests,
)
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import Campaign, Outbox, Person
from storage.settings import Settings
from tests.sched_fixtures import FakeClock, World, build_world, local, second_database

SCHEDULE = DigestSchedule()


async def composer(session: AsyncSession, person: Person, now: datetime) -> OutgoingMessage | None:
    return OutgoingMessage(text=f"Tổng hợp tuần cho {person.full_name}", photo=b"\x89PNG chart")


async def _keys(db: Database, kind: str | None = None) -> list[str]:
    query = select(col(Outbox.key)).order_by(col(Outbox.key))
    if kind:
        query = query.where(col(Outbox.kind) == kind)
    async with db.read() as session:
        return list((await session.execute(query)).scalars().all())


def _digest_keys(world: World, week: str) -> list[str]:
    return sorted(f"digest:{world.pid(n)}:{week}" for n in ("s_h1", "s_tu", "admin"))


def test_digest_week_across_the_year_boundary() -> None:
    assert SCHEDULE.week_label(local(2020, 12, 28, 7, 30)) == "2020-W53"
    assert SCHEDULE.week_label(local(2021, 1, 3, 23, 0)) == "2020-W53"
    assert SCHEDULE.week_label(local(2021, 1, 4, 7, 29)) == "2020-W53"
    assert SCHEDULE.week_label(local(2021, 1, 4, 7, 30)) == "2021-W01"
    # 00:30 UTC on Monday 4 January 2021 is 07:30 in Hanoi.
    assert SCHEDULE.week_label(datetime(2021, 1, 4, 0, 30, tzinfo=UTC)) == "2021-W01"
    assert SCHEDULE.next_time(local(2020, 12, 30, 12)) == local(2021, 1, 4, 7, 30)


def test_digest_schedule_from_the_campaign_definition() -> None:
    stored = {"campaign": {"digest": {"weekday": "friday", "time": "16:00:00"}}}
    schedule = DigestSchedule.from_definition(stored, "Asia/Ho_Chi_Minh")
    assert (schedule.weekday, schedule.at) == (4, time(16))
    assert schedule.period_start(local(2016, 6, 13, 9)) == local(2016, 6, 10, 16)


async def test_digest_on_monday_morning_once_per_supervisor_and_admin(db: Database) -> None:
    world = await build_world(db)
    monday = local(2020, 12, 28, 7, 30)
    assert await digest_pass(db, monday, composer) == 3
    assert await digest_pass(db, monday + timedelta(minutes=5), composer) == 0
    assert await _keys(db, "digest") == _digest_keys(world, "2020-W53")
    async with db.read() as session:
        row = (await session.execute(select(Outbox).where(col(Outbox.kind) == "digest"))).first()
    assert row is not None
    assert OutgoingMessage.from_payload(row[0].payload).photo == b"\x89PNG chart"
    # The next Monday, across the year boundary: week 1 of 2021.
    assert await digest_pass(db, local(2021, 1, 4, 7, 30), composer) == 3
    assert len(await _keys(db, "digest")) == 6
    assert set(_digest_keys(world, "2021-W01")) <= set(await _keys(db, "digest"))


async def test_downtime_over_the_digest_time_gives_exactly_one_late_digest(db: Database) -> None:
    world = await build_world(db)
    clock = FakeClock(local(2021, 1, 2, 10))  # Saturday: last week's digest went out
    await catch_up(db, clock, composer)
    before = await _keys(db, "digest")
    assert before == _digest_keys(world, "2020-W53")
    # Down from Sunday to Tuesday: Monday 07:30 passed with nobody running.
    clock.now = local(2021, 1, 5, 14)
    result = await catch_up(db, clock, composer)
    assert result.digests == 3
    clock.now = local(2021, 1, 6, 9)
    assert (await catch_up(db, clock, composer)).digests == 0
    assert await _keys(db, "digest") == sorted(before + _digest_keys(world, "2021-W01"))


async def test_a_late_digest_in_quiet_hours_waits_for_the_morning(db: Database) -> None:
    await build_world(db)
    await digest_pass(db, local(2021, 1, 5, 22), composer)
    async with db.read() as session:
        rows = (await session.execute(select(Outbox))).scalars().all()
    assert rows and all(r.not_before == local(2021, 1, 6, 7) for r in rows)


async def test_nothing_is_queued_when_the_composer_has_nothing(db: Database) -> None:
    await build_world(db)

    async def empty(session: AsyncSession, person: Person, now: datetime) -> None:
        return None

    assert await digest_pass(db, local(2021, 1, 4, 7, 30), empty) == 0
    assert await _keys(db) == []


async def test_two_schedulers_at_once_queue_one_digest_per_person(db: Database) -> None:
    world = await build_world(db)
    monday = local(2021, 1, 4, 7, 30)
    async with second_database(db) as other:
        results = await asyncio.gather(
            digest_pass(db, monday, composer),
            digest_pass(other, monday, composer),
            reminder_pass(db, local(2016, 6, 9, 8)),
            reminder_pass(other, local(2016, 6, 9, 8)),
        )
    assert results[0] + results[1] == 3
    assert results[2] + results[3] == 3
    assert await _keys(db, "digest") == _digest_keys(world, "2021-W01")
    assert len(await _keys(db, "reminder")) == 3


async def test_the_same_reminder_job_twice_queues_once(db: Database) -> None:
    await build_world(db)
    assert await reminder_pass(db, local(2016, 6, 9, 8)) == 3
    assert await reminder_pass(db, local(2016, 6, 9, 9)) == 0
    assert len(await _keys(db, "reminder")) == 3


async def test_a_late_reminder_pass_the_same_day_sends(db: Database) -> None:
    await build_world(db)
    assert await reminder_pass(db, local(2016, 6, 9, 16, 45)) == 3


async def test_a_missed_day_is_skipped_and_logged(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await build_world(db)
    # Down all of 9/6 (1 day before the deadline); back on 10/6 at 06:00, before the send hour.
    with caplog.at_level(logging.WARNING, logger="scheduler.jobs"):
        queued = await reminder_pass(db, local(2016, 6, 10, 6), report_missed=True)
    assert queued == 0
    assert "3 reminders of yesterday were missed" in caplog.text
    assert await _keys(db, "reminder") == []
    # At the send hour, today's reminder (due today) goes out, dated today.
    assert await reminder_pass(db, local(2016, 6, 10, 8)) == 3
    assert all(k.endswith(":2016-06-10") for k in await _keys(db, "reminder"))


async def test_escalation_pass_writes_one_row_per_recipient_per_day(db: Database) -> None:
    world = await build_world(db)
    day = local(2016, 6, 16, 8, 10)  # a Thursday: escalations go out Mondays and Thursdays
    assert await escalation_pass(db, day) == 2  # s_h1 (CS1, CS2) and s_tu (CS3)
    assert await escalation_pass(db, day + timedelta(hours=1)) == 0
    assert await _keys(db, "escalation") == sorted(
        f"escalate:{world.pid(n)}:2016-06-16" for n in ("s_h1", "s_tu")
    )


async def test_a_closed_campaign_sends_nothing(db: Database) -> None:
    from tests.sched_fixtures import set_campaign_status

    world = await build_world(db)
    assert world.campaign.id is not None
    await set_campaign_status(db, world.campaign.id, "closed")
    assert await reminder_pass(db, local(2016, 6, 9, 8)) == 0
    assert await escalation_pass(db, local(2016, 6, 20, 8)) == 0


async def test_build_scheduler_jobs(db: Database) -> None:
    settings = Settings(_env_file=None)
    clock = FakeClock(local(2021, 1, 1, 12))
    scheduler = build_scheduler(db, clock, settings, composer)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    digest_id = digest_job_id(DigestSchedule(tz=settings.timezone))
    assert set(jobs) == {JOB_REMINDERS, JOB_ESCALATIONS, digest_id, JOB_DIGEST_RECONCILE}
    assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
    assert jobs[digest_id].misfire_grace_time == 6 * 24 * 3600
    assert jobs[JOB_REMINDERS].misfire_grace_time == 3 * 3600
    after = local(2020, 12, 30, 12, 1)
    assert jobs[digest_id].trigger.get_next_fire_time(None, after) == local(2021, 1, 4, 7, 30)
    assert jobs[JOB_REMINDERS].trigger.get_next_fire_time(None, after) == local(2020, 12, 30, 13)
    # Building again replaces rather than duplicates.
    assert len(build_scheduler(db, clock, settings, composer).get_jobs()) == 4


async def test_the_scheduler_runs_a_job_with_the_injected_clock(db: Database) -> None:
    await build_world(db)
    settings = Settings(_env_file=None)
    clock = FakeClock(local(2016, 6, 9, 8))
    scheduler = build_scheduler(db, clock, settings, composer)
    job = scheduler.get_job(JOB_REMINDERS)
    assert job is not None
    await job.func()
    assert len(await _keys(db, "reminder")) == 3


async def test_load_digest_schedule(db: Database) -> None:
    settings = Settings(_env_file=None)
    assert (await load_digest_schedule(db, settings)) == DigestSchedule(tz=settings.timezone)
    await build_world(db, definition={"campaign": {"digest": {"weekday": "tuesday"}}})
    schedule = await load_digest_schedule(db, settings)
    assert (schedule.weekday, schedule.at) == (1, time(7, 30))


def _digest_jobs(scheduler: Any) -> dict[str, Any]:
    return {j.id: j for j in scheduler.get_jobs() if j.id.startswith(f"{JOB_DIGEST}:")}


async def test_a_campaign_changed_after_the_election_moves_the_digest_without_a_restart(
    db: Database,
) -> None:
    world = await build_world(db)
    settings = Settings(_env_file=None)
    clock = FakeClock(local(2016, 6, 1, 12))
    schedules = await load_digest_schedules(db, settings)
    scheduler = build_scheduler(db, clock, settings, composer, schedules=schedules)
    assert [
        j.trigger.get_next_fire_time(None, clock.now) for j in _digest_jobs(scheduler).values()
    ] == [
        local(2016, 6, 6, 7, 30)  # Monday
    ]
    async with db.write() as session:
        campaign = await session.get(Campaign, world.campaign.id)
        assert campaign is not None
        campaign.definition = {"campaign": {"digest": {"weekday": "wednesday", "time": "16:00"}}}
        session.add(campaign)
    await reconcile_digests(scheduler, db, clock, settings, composer)
    [job] = _digest_jobs(scheduler).values()
    assert job.trigger.get_next_fire_time(None, clock.now) == local(2016, 6, 1, 16, 0)
    assert scheduler.get_job(JOB_DIGEST_RECONCILE) is not None


async def test_every_open_campaign_has_its_digest_schedule(db: Database) -> None:
    world = await build_world(db)
    settings = Settings(_env_file=None)
    async with db.write() as session:
        second = Campaign(
            reference="99-KH/TU",
            name="Đợt hai",
            resolution="Nghị quyết",
            created_at=local(2016, 5, 1),
            updated_at=local(2016, 5, 1),
            status="open",
            timezone="Asia/Ho_Chi_Minh",
            start_date=world.campaign.start_date,
            definition={"campaign": {"digest": {"weekday": "friday", "time": "09:00"}}},
        )
        session.add(second)
    schedules = await load_digest_schedules(db, settings)
    assert [(s.weekday, s.at) for s in schedules] == [(0, time(7, 30)), (4, time(9, 0))]
    clock = FakeClock(local(2016, 6, 1, 12))
    scheduler = build_scheduler(db, clock, settings, composer, schedules=schedules)
    assert set(_digest_jobs(scheduler)) == {digest_job_id(s) for s in schedules}


async def test_a_digest_due_in_the_campaign_quiet_hours_waits_for_their_end(db: Database) -> None:
    await build_world(
        db,
        definition={
            "campaign": {
                "digest": {"weekday": "monday", "time": "07:30"},
                "reminders": {"quiet_hours": {"start": "21:00", "end": "09:00"}},
            }
        },
    )
    settings = Settings(_env_file=None)
    [schedule] = await load_digest_schedules(db, settings)
    assert (schedule.quiet_start, schedule.quiet_end) == (time(21, 0), time(9, 0))
    monday = local(2016, 6, 6, 7, 30)
    assert await digest_pass(db, monday, composer, schedule=schedule) > 0
    async with db.read() as session:
        rows = (
            (await session.execute(select(Outbox).where(col(Outbox.kind) == "digest")))
            .scalars()
            .all()
        )
    assert rows and all(r.not_before == local(2016, 6, 6, 9, 0) for r in rows)
    assert all(r.payload["quiet"]["end"] == "09:00" for r in rows)
