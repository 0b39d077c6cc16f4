"""bot.runtime: the housekeeping job, the jobs the running bot schedules, and a failing sender
stopping the whole service (in process, against the fake Bot API over HTTP)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.runtime import (
    JOB_FORGET_UPDATES,
    JOB_PRUNE_FILES,
    add_housekeeping,
    forget_updates_job,
    run_service,
)
from scheduler.digest import compose_digest
from scheduler.runner import build_scheduler
from scheduler.sender import Sender
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CHANNEL_TELEGRAM, ProcessedUpdate
from storage.settings import Settings
from storage.updates import claim_update
from tests.botapi_stub import OUTER, BotApiStub


async def test_forget_job_keeps_a_week_of_update_ids(db: Database, now: datetime) -> None:
    async with db.write() as session:
        for update_id, age in ((1, timedelta(days=8)), (2, timedelta(days=6))):
            await claim_update(
                session=session, channel=CHANNEL_TELEGRAM, update_id=update_id, now=now - age
            )

    assert await forget_updates_job(db, lambda: now) == 1

    async with db.read() as session:
        left = (await session.execute(select(col(ProcessedUpdate.update_id)))).scalars().all()
    assert left == ["2"]


async def test_the_running_bot_schedules_passes_and_housekeeping(db: Database) -> None:
    settings = Settings(telegram_token="123:TEST", _env_file=None)
    scheduler = build_scheduler(db, lambda: datetime.now().astimezone(), settings, compose_digest)
    add_housekeeping(scheduler, db, lambda: datetime.now().astimezone(), settings.timezone)
    assert {job.id.split(":")[0] for job in scheduler.get_jobs()} == {
        "reminders",
        "escalations",
        "digest",  # one job per digest schedule: digest:<day>:<time>:<tz>:<quiet hours>
        "digest_schedule",  # re-reads the open campaigns' schedules
        JOB_FORGET_UPDATES,
        JOB_PRUNE_FILES,  # the expired files kept for Zalo links
    }


async def test_a_failing_sender_stops_the_service_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(RuntimeError):
        pass

    async def broken(self: Sender, stop_event: asyncio.Event, **_: object) -> None:
        raise Broken("outbox unreadable")

    monkeypatch.setattr(Sender, "run_forever", broken)
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    db = Database.from_url(url)
    await upgrade(db.engine)
    await db.dispose()
    stub = BotApiStub()
    await stub.start()
    try:
        settings = Settings(
            telegram_token="123:TEST",
            telegram_api_url=stub.base_url,
            database_url=url,
            _env_file=None,
        )
        # Never set: only the failure may end the service (wait_for: it must not hang instead).
        stop = asyncio.Event()
        with pytest.raises(Broken):
            await asyncio.wait_for(run_service(settings, webhook=False, stop=stop), OUTER)
    finally:
        await stub.close()
