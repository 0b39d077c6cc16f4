"""The APScheduler wiring: three cron jobs that call the passes in `scheduler.jobs`.

The job store is in memory (APScheduler job stores cannot be shared between processes); what
makes downtime and duplicate schedulers harmless is the outbox key of every message, plus
`catch_up`, which runs every pass once on start.

Jobs (explicit ids, replace_existing, coalesce, one instance at a time):
- `reminders`   every hour at :00 — a campaign's reminders are planned only in its send window
  (from its `send_hour` until the quiet hours), so hourly runs serve every campaign's hour and a
  late run the same day still sends; misfire grace 3 h;
- `escalations` every hour at :10, same window; misfire grace 3 h;
- `digest:<day>:<time>:<tz>:<quiet>` weekly, one per distinct schedule of the open campaigns
  (Monday 07:30 local by default), held back by the campaign's quiet hours; misfire grace 6 days;
- `digest_schedule` every 10 minutes: re-reads the open campaigns and adds or removes digest jobs
  (`reconcile_digests`), so a campaign opened or changed after the leader was elected counts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlmodel import col

from scheduler.jobs import (
    DigestComposer,
    DigestSchedule,
    digest_pass,
    escalation_pass,
    reminder_pass,
)
from storage.clock import Clock
from storage.db import Database
from storage.models import Campaign
from storage.reminders import CAMPAIGN_OPEN, parse_hhmm
from storage.settings import Settings

log = logging.getLogger(__name__)

JOB_REMINDERS = "reminders"
JOB_ESCALATIONS = "escalations"
JOB_DIGEST = "digest"
JOB_DIGEST_RECONCILE = "digest_schedule"
RECONCILE_MINUTES = 10

HOUR = 3600
DAY = 24 * HOUR
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _schedule_of(campaign: Campaign, tz: str) -> DigestSchedule:
    """The campaign's `digest` block (Monday 07:30 by default) with its quiet hours
    (`reminders.quiet_hours`, 21:00-07:00 by default): a digest due in them waits for their end."""
    schedule = DigestSchedule.from_definition(campaign.definition, tz)
    block = ((campaign.definition or {}).get("campaign") or {}).get("reminders") or {}
    quiet = block.get("quiet_hours") or {}
    if quiet:
        schedule = replace(
            schedule,
            quiet_start=parse_hhmm(quiet.get("start", "21:00"), "quiet_hours.start"),
            quiet_end=parse_hhmm(quiet.get("end", "07:00"), "quiet_hours.end"),
        )
    return schedule


async def load_digest_schedules(db: Database, settings: Settings) -> list[DigestSchedule]:
    """One schedule per open campaign (distinct, in campaign order), read now: a campaign opened
    or changed since the last read counts at the next read. The default schedule when no
    campaign is open; a campaign with a bad block is logged and gets the default."""
    async with db.read() as session:
        campaigns = (
            (
                await session.execute(
                    select(Campaign)
                    .where(col(Campaign.status) == CAMPAIGN_OPEN)
                    .order_by(col(Campaign.id))
                )
            )
            .scalars()
            .all()
        )
    schedules: list[DigestSchedule] = []
    for campaign in campaigns:
        try:
            schedule = _schedule_of(campaign, settings.timezone)
        except ValueError as exc:
            log.error("campaign %s: %s; the digest goes out Monday 07:30", campaign.reference, exc)
            schedule = DigestSchedule(tz=settings.timezone)
        if schedule not in schedules:
            schedules.append(schedule)
    return schedules or [DigestSchedule(tz=settings.timezone)]


async def load_digest_schedule(db: Database, settings: Settings) -> DigestSchedule:
    """The first open campaign's schedule (see `load_digest_schedules`)."""
    return (await load_digest_schedules(db, settings))[0]


@dataclass(slots=True)
class CatchUp:
    reminders: int
    escalations: int
    digests: int


async def catch_up(
    db: Database,
    clock: Clock,
    composer: DigestComposer,
    *,
    schedules: Sequence[DigestSchedule] = (),
) -> CatchUp:
    """Run every pass once, now (the digest pass once per schedule). Safe at any time (the
    passes are idempotent); run it on start so a digest or reminder whose time passed while the
    bot was down still goes out, once."""
    now = clock()
    reminders = await reminder_pass(db, now, report_missed=True)
    escalations = await escalation_pass(db, now)
    digests = 0
    wanted: list[DigestSchedule | None] = [*schedules] or [None]  # None: digest_pass's default
    for each in wanted:
        digests += await digest_pass(db, now, composer, schedule=each)
    result = CatchUp(reminders=reminders, escalations=escalations, digests=digests)
    log.info("catch-up at %s: %s", now.isoformat(), result)
    return result


def digest_job_id(schedule: DigestSchedule) -> str:
    """The id of a schedule's cron job: the first is `digest`, others name their time."""
    quiet = f"{schedule.quiet_start:%H%M}-{schedule.quiet_end:%H%M}"
    return f"{JOB_DIGEST}:{schedule.weekday}:{schedule.at:%H%M}:{schedule.tz}:{quiet}"


def _add_digest_job(
    scheduler: AsyncIOScheduler,
    db: Database,
    clock: Clock,
    composer: DigestComposer,
    schedule: DigestSchedule,
    job_id: str,
) -> None:
    async def run_digest() -> None:
        await digest_pass(db, clock(), composer, schedule=schedule)

    scheduler.add_job(
        run_digest,
        CronTrigger(
            day_of_week=_WEEKDAYS[schedule.weekday],
            hour=schedule.at.hour,
            minute=schedule.at.minute,
            timezone=schedule.tz,
        ),
        id=job_id,
        name="weekly digest",
        misfire_grace_time=6 * DAY,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )


async def reconcile_digests(
    scheduler: AsyncIOScheduler,
    db: Database,
    clock: Clock,
    settings: Settings,
    composer: DigestComposer,
) -> list[str]:
    """Make the digest jobs match the open campaigns as they are now: a job for every schedule
    (added if new), none for a schedule no open campaign has any more. Returns the job ids."""
    schedules = await load_digest_schedules(db, settings)
    wanted = {digest_job_id(s): s for s in schedules}
    for job in scheduler.get_jobs():
        if job.id.startswith(f"{JOB_DIGEST}:") and job.id not in wanted:
            scheduler.remove_job(job.id)
            log.info("digest job %s removed (no open campaign has that schedule)", job.id)
    present = {job.id for job in scheduler.get_jobs()}
    for job_id, schedule in wanted.items():
        if job_id not in present:
            _add_digest_job(scheduler, db, clock, composer, schedule, job_id)
            log.info("digest job %s added", job_id)
    return list(wanted)


def build_scheduler(
    db: Database,
    clock: Clock,
    settings: Settings,
    composer: DigestComposer,
    *,
    schedules: Sequence[DigestSchedule] = (),
) -> AsyncIOScheduler:
    """An AsyncIOScheduler (not started) with the reminder and escalation jobs, one digest job
    per schedule (`schedules`, from `load_digest_schedules`; Monday 07:30 by default) and
    `JOB_DIGEST_RECONCILE`, which re-reads the open campaigns every `RECONCILE_MINUTES` so a
    campaign opened, closed or changed later moves the digest without a restart. Each job reads
    `now` from `clock`."""
    tz = settings.timezone
    first = list(schedules) or [DigestSchedule(tz=tz)]

    async def run_reminders() -> None:
        await reminder_pass(db, clock())

    async def run_escalations() -> None:
        await escalation_pass(db, clock())

    scheduler = AsyncIOScheduler(
        timezone=tz,
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    # Hourly: reminders on the hour, escalations ten minutes past.
    for run, job_id, name, minute in (
        (run_reminders, JOB_REMINDERS, "reminders", 0),
        (run_escalations, JOB_ESCALATIONS, "escalations", 10),
    ):
        scheduler.add_job(
            run,
            CronTrigger(minute=minute, timezone=tz),
            id=job_id,
            name=name,
            misfire_grace_time=3 * HOUR,
            **common,
        )
    for each in first:
        _add_digest_job(scheduler, db, clock, composer, each, digest_job_id(each))

    async def run_reconcile() -> None:
        await reconcile_digests(scheduler, db, clock, settings, composer)

    scheduler.add_job(
        run_reconcile,
        IntervalTrigger(minutes=RECONCILE_MINUTES, timezone=tz),
        id=JOB_DIGEST_RECONCILE,
        name="digest schedule",
        misfire_grace_time=RECONCILE_MINUTES * 60,
        **common,
    )
    return scheduler
