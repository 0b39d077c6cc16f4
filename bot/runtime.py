"""The long-running service behind `cadrebot run`: everything the bot does while it is up.

`run_service` composes, in one event loop:
- the Telegram `Application` (long polling, or the webhook server) answering users;
- the outbox `Sender` draining proactive messages (reminders, escalations, digests, nudges)
  through `TelegramChannel(application.bot)`, paced by a `RateLimiter(rate=settings.send_rate)`;
- `catch_up` once at start (a reminder or digest whose time passed while the bot was down goes
  out now, once), then the APScheduler jobs of `scheduler.runner.build_scheduler` plus a daily
  job that forgets processed update ids older than `KEEP_UPDATES`.

It runs until `stop` is set (`cadrebot run` sets it on SIGINT/SIGTERM), then shuts everything
down in reverse order — scheduler, sender, updater, application, database engine (aiosqlite's
thread keeps the process alive otherwise) — and returns. If the sender or the start-up catch-up
fails, the service shuts down the same way and re-raises, so a process supervisor restarts it
rather than leaving a bot that answers but never sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.settings import Settings
from bot.telegram.channel import TelegramChannel
from bot.telegram.idempotency import forget_old_updates
from bot.telegram.menus import set_default_menu
from bot.telegram.webhook import start_webhook
from scheduler.digest import compose_digest
from scheduler.ratelimit import RateLimiter
from scheduler.runner import build_scheduler, catch_up, load_digest_schedule
from scheduler.sender import Sender
from storage.clock import Clock, system_clock
from storage.db import Database

log = logging.getLogger(__name__)

JOB_FORGET_UPDATES = "forget_updates"
KEEP_UPDATES = timedelta(days=7)
# How long the sender may take to finish its current drain after the stop signal.
SENDER_GRACE = 10.0


async def forget_updates_job(db: Database, clock: Clock, keep: timedelta = KEEP_UPDATES) -> int:
    """Delete processed-update records older than `keep` (one write transaction)."""
    async with db.write() as session:
        deleted = await forget_old_updates(session=session, now=clock(), keep=keep)
    log.info("forgot %d processed update ids older than %s", deleted, keep)
    return deleted


def add_housekeeping(scheduler: AsyncIOScheduler, db: Database, clock: Clock, tz: str) -> None:
    """The daily housekeeping job (03:30 local) on a scheduler from `build_scheduler`."""

    async def run() -> None:
        await forget_updates_job(db, clock)

    scheduler.add_job(
        run,
        CronTrigger(hour=3, minute=30, timezone=tz),
        id=JOB_FORGET_UPDATES,
        name="forget processed updates",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=12 * 3600,
    )


async def _start_scheduling(
    db: Database, clock: Clock, settings: Settings, scheduler_box: list[AsyncIOScheduler]
) -> None:
    """Catch up once, then start the periodic jobs (in that order: a job and the catch-up never
    run the same pass at the same time in this process)."""
    schedule = await load_digest_schedule(db, settings)
    await catch_up(db, clock, compose_digest, schedule=schedule)
    scheduler = build_scheduler(db, clock, settings, compose_digest, schedule=schedule)
    add_housekeeping(scheduler, db, clock, settings.timezone)
    scheduler.start()
    scheduler_box.append(scheduler)
    log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))


async def _start_updates(
    application: Application[Any, Any, Any, Any, Any, Any], config: Settings, *, webhook: bool
) -> None:
    assert application.updater is not None
    if webhook:
        await start_webhook(application, config)
        log.info("webhook server on %s:%s", config.webhook_listen, config.webhook_port)
    else:
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        log.info("long polling started")


def _task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    return asyncio.create_task(coro, name=name)


async def run_service(
    config: Settings,
    *,
    webhook: bool,
    stop: asyncio.Event,
    clock: Clock = system_clock,
) -> None:
    """Run the whole bot until `stop` is set; see the module docstring."""
    db = Database.from_url(config.database_url)
    try:
        application = build_application(config, db=db, clock=clock)
        async with application:  # initialize() ... shutdown()
            await _serve_application(
                application, db, config, webhook=webhook, stop=stop, clock=clock
            )
    finally:
        await db.dispose()
    log.info("stopped")


async def _serve_application(
    application: Application[Any, Any, Any, Any, Any, Any],
    db: Database,
    config: Settings,
    *,
    webhook: bool,
    stop: asyncio.Event,
    clock: Clock,
) -> None:
    assert application.updater is not None
    await set_default_menu(application.bot)
    sender = Sender(
        db,
        [TelegramChannel(application.bot)],
        RateLimiter(rate=config.send_rate),
        clock=clock,
    )
    sender_stop = asyncio.Event()
    schedulers: list[AsyncIOScheduler] = []
    await _start_updates(application, config, webhook=webhook)
    await application.start()
    sender_task = _task(sender.run_forever(sender_stop), "outbox sender")
    startup_task = _task(_start_scheduling(db, clock, config, schedulers), "catch-up")
    stop_task = _task(_wait(stop), "stop signal")
    watched = {stop_task, sender_task, startup_task}
    failure: BaseException | None = None
    try:
        while not stop_task.done():
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            watched -= done
            for task in done:
                if task is not stop_task and task.exception() is not None:
                    failure = task.exception()
                    log.error("%s failed; shutting down", task.get_name(), exc_info=failure)
            if failure is not None:
                break
    finally:
        stop_task.cancel()
        if not startup_task.done():
            startup_task.cancel()
        for scheduler in schedulers:
            scheduler.shutdown(wait=False)
        sender_stop.set()
        if not sender_task.done():
            try:
                await asyncio.wait_for(sender_task, SENDER_GRACE)
            except TimeoutError:
                log.warning(
                    "the sender did not finish its drain in %.0f s; cancelled", SENDER_GRACE
                )
        await asyncio.gather(startup_task, return_exceptions=True)
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
    if failure is not None:
        raise failure


async def _wait(event: asyncio.Event) -> None:
    await event.wait()
