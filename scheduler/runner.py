"""The APScheduler wiring: three cron jobs that call the passes in `scheduler.jobs`.

The job store is in memory (APScheduler job stores cannot be shared between processes); what
makes downtime and duplicate schedulers harmless is the outbox key of every message, plus
`catch_up`, which runs every pass once on start.

Jobs (explicit ids, replace_existing, coalesce, one instance at a time):
- `reminders`   every hour at :00 — a campaign's reminders are planned only in its send window
  (from its `send_hour` until the quiet hours), so hourly runs serve every campaign's hour and a
  late run the same day still sends; misfire grace 3 h;
- `escalations` every hour at :10, same window; misfire grace 3 h;
- `digest`      weekly, Monday 07:30 local by default; misfire grace 6 days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
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
from storage.reminders import CAMPAIGN_OPEN
from storage.settings import Settings

log = logging.getLogger(__name__)

JOB_REMINDERS = "reminders"
JOB_ESCALATIONS = "escalations"
JOB_DIGEST = "digest"

HOUR = 3600
DAY = 24 * HOUR
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def load_digest_schedule(db: Database, settings: Settings) -> DigestSchedule:
    """The digest time of the first open campaign (its `digest` block; Monday 07:30 by default)
    in the settings' timezone; the default when no campaign is open."""
    async with db.read() as session:
        campaign = (
            (
                await session.execute(
                    select(Campaign)
                    .where(col(Campaign.status) == CAMPAIGN_OPEN)
                    .order_by(col(Campaign.id))
                )
            )
            .scalars()
            .first()
        )
    if campaign is None:
        return DigestSchedule(tz=settings.timezone)
    try:
        return DigestSchedule.from_definition(campaign.definition, settings.timezone)
    except ValueError as exc:
        log.error("campaign %s: %s; the digest goes out Monday 07:30", campaign.reference, exc)
        return DigestSchedule(tz=settings.timezone)


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
    schedule: DigestSchedule | None = None,
) -> CatchUp:
    """Run every pass once, now. Safe at any time (the passes are idempotent); run it on start so
    a digest or reminder whose time passed while the bot was down still goes out, once."""
    now = clock()
    result = CatchUp(
        reminders=await reminder_pass(db, now, report_missed=True),
        escalations=await escalation_pass(db, now),
        digests=await digest_pass(db, now, composer, schedule=schedule),
    )
    log.info("catch-up at %s: %s", now.isoformat(), result)
    return result


def build_scheduler(
    db: Database,
    clock: Clock,
    settings: Settings,
    composer: DigestComposer,
    *,
    schedule: DigestSchedule | None = None,
) -> AsyncIOScheduler:
    """An AsyncIOScheduler (not started) with the three jobs. Each job reads `now` from `clock`.
    `schedule`: the digest time (see `load_digest_schedule`); Monday 07:30 by default."""
    schedule = schedule or DigestSchedule(tz=settings.timezone)
    tz = settings.timezone

    async def run_reminders() -> None:
        await reminder_pass(db, clock())

    async def run_escalations() -> None:
        await escalation_pass(db, clock())

    async def run_digest() -> None:
        await digest_pass(db, clock(), composer, schedule=schedule)

    scheduler = AsyncIOScheduler(
        timezone=tz,
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    scheduler.add_job(
        run_reminders,
        CronTrigger(minute=0, timezone=tz),
        id=JOB_REMINDERS,
        name="reminders",
        misfire_grace_time=3 * HOUR,
        **common,
    )
    scheduler.add_job(
        run_escalations,
        CronTrigger(minute=10, timezone=tz),
        id=JOB_ESCALATIONS,
        name="escalations",
        misfire_grace_time=3 * HOUR,
        **common,
    )
    scheduler.add_job(
        run_digest,
        CronTrigger(
            day_of_week=_WEEKDAYS[schedule.weekday],
            hour=schedule.at.hour,
            minute=schedule.at.minute,
            timezone=schedule.tz,
        ),
        id=JOB_DIGEST,
        name="weekly digest",
        misfire_grace_time=6 * DAY,
        **common,
    )
    return scheduler
