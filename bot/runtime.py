"""The long-running service behind `cadrebot run`: everything the bot does while it is up.

`run_service` composes, in one event loop:
- the Telegram `Application` answering users, when CADREBOT_TELEGRAM_TOKEN is set, fed by our
  long polling (`bot.telegram.polling`) or webhook server (`bot.telegram.webhook`): an update is
  confirmed to Telegram only after it has been processed, so a kill never loses one;
- the Zalo channel (`bot.zalo.run.run_zalo`: polling or its webhook server), when
  CADREBOT_ZALO_TOKEN is set; either channel alone, or both in one process;
- the outbox `Sender` draining proactive messages (reminders, escalations, digests, nudges)
  through the channels that run (`TelegramChannel(application.bot)`, `ZaloChannel`), paced by a
  `RateLimiter(rate=settings.send_rate)`; it runs in every worker (claims are
  `FOR UPDATE SKIP LOCKED` on PostgreSQL);
- the web console (`bot.web`, uvicorn in this loop) when CADREBOT_WEB_URL is set, watched like
  the other tasks: if its server dies mid-run, the failure is logged and the service stops;
- the scheduling, in the elected leader only (`scheduler.leader.Leadership`: a PostgreSQL
  advisory lock; on SQLite this process): `catch_up` once when elected (a reminder or digest whose
  time passed while no leader ran goes out now, once), then the APScheduler jobs of
  `scheduler.runner.build_scheduler` plus the daily housekeeping: forget processed update ids
  older than `KEEP_UPDATES`, delete the expired files kept for Zalo links and the evidence files
  no row names a day after they were stored. A worker that loses the leadership stops its
  scheduler.

It runs until `stop` is set (`cadrebot run` sets it on SIGINT/SIGTERM), then shuts everything
down in reverse order — leadership (scheduler stopped, lock released), Zalo receiving, sender,
Telegram receiving (the updates in progress finish) and application, Zalo client, database
engine (aiosqlite's thread keeps the process alive otherwise) — and returns. If the sender, the
catch-up, the leadership, the Telegram polling, the Zalo channel or the web console fails, the
service shuts down the same way and re-raises (`cadrebot run` exits non-zero), so a process
supervisor restarts it rather than leaving a bot that answers but never sends, or a console
that has silently gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from telegram.ext import Application

from bot.app import build_application
from bot.telegram.channel import TelegramChannel
from bot.telegram.menus import set_default_menu
from bot.telegram.polling import run_polling
from bot.telegram.webhook import WebhookServer, start_webhook
from bot.web.server import WebServer
from bot.zalo.run import ZaloService, build_zalo, run_zalo, zalo_enabled
from scheduler.channels import Channel
from scheduler.digest import compose_digest
from scheduler.leader import Leadership
from scheduler.ratelimit import RateLimiter
from scheduler.runner import build_scheduler, catch_up, load_digest_schedules
from scheduler.sender import Sender
from storage.clock import Clock, system_clock
from storage.db import Database
from storage.evidence import prune_unreferenced
from storage.kept_files import prune_kept_files
from storage.settings import Settings
from storage.updates import forget_old_updates

log = logging.getLogger(__name__)

JOB_FORGET_UPDATES = "forget_updates"
JOB_PRUNE_FILES = "prune_files"
KEEP_UPDATES = timedelta(days=7)
# How long the sender may take to finish its current drain after the stop signal.
SENDER_GRACE = 10.0

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def telegram_enabled(settings: Settings) -> bool:
    return settings.telegram_token is not None and bool(settings.telegram_token.get_secret_value())


async def forget_updates_job(db: Database, clock: Clock, keep: timedelta = KEEP_UPDATES) -> int:
    """Delete processed-update records older than `keep` (one write transaction)."""
    async with db.write() as session:
        deleted = await forget_old_updates(session=session, now=clock(), keep=keep)
    log.info("forgot %d processed update ids older than %s", deleted, keep)
    return deleted


async def prune_files_job(db: Database, clock: Clock, evidence: Path | None = None) -> int:
    """Delete the files kept for Zalo links (storage.kept_files) past their expiry and, in the
    `evidence` folder, the files no evidence row names, stored more than a day ago (a draft
    cancelled, a transaction rolled back: `storage.evidence.prune_unreferenced`)."""
    now = clock()
    async with db.write() as session:
        deleted = await prune_kept_files(session=session, now=now)
    log.info("deleted %d expired files kept for links", deleted)
    if evidence is not None:
        async with db.read() as session:
            orphans = await prune_unreferenced(session=session, folder=evidence, now=now)
        log.info("deleted %d evidence files no report or draft names", orphans)
        deleted += orphans
    return deleted


def add_housekeeping(
    scheduler: AsyncIOScheduler,
    db: Database,
    clock: Clock,
    tz: str,
    *,
    evidence: Path | None = None,
) -> None:
    """The daily housekeeping jobs (03:30 and 03:40 local) on a scheduler from
    `build_scheduler`; `evidence`: the evidence folder (CADREBOT_EVIDENCE_DIR)."""
    daily = (
        (JOB_FORGET_UPDATES, "forget processed updates", 30, forget_updates_job, ()),
        (JOB_PRUNE_FILES, "prune kept and unreferenced files", 40, prune_files_job, (evidence,)),
    )
    for job_id, name, minute, job, more in daily:
        scheduler.add_job(
            job,
            CronTrigger(hour=3, minute=minute, timezone=tz),
            args=(db, clock, *more),
            id=job_id,
            name=name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=12 * 3600,
        )


class _Tasks:
    """The service's background tasks: the first one to fail sets `failed` (and is logged)."""

    def __init__(self) -> None:
        self.failed = asyncio.Event()
        self.failure: BaseException | None = None

    def start(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        if self.failure is None:
            self.failure = task.exception()
            log.error("%s failed; shutting down", task.get_name(), exc_info=self.failure)
        self.failed.set()


class _Scheduling:
    """What the leader runs: the catch-up, then the periodic jobs (in that order: a job and the
    catch-up never run the same pass at the same time in this process)."""

    def __init__(self, db: Database, clock: Clock, settings: Settings, tasks: _Tasks) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.tasks = tasks
        self.startup: asyncio.Task[None] | None = None
        self.scheduler: AsyncIOScheduler | None = None

    async def elected(self) -> None:
        self.startup = self.tasks.start(self._start(), "catch-up")

    async def _start(self) -> None:
        schedules = await load_digest_schedules(self.db, self.settings)
        await catch_up(self.db, self.clock, compose_digest, schedules=schedules)
        scheduler = build_scheduler(
            self.db, self.clock, self.settings, compose_digest, schedules=schedules
        )
        add_housekeeping(
            scheduler,
            self.db,
            self.clock,
            self.settings.timezone,
            evidence=Path(self.settings.evidence_dir),
        )
        scheduler.start()
        self.scheduler = scheduler
        log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))

    async def lost(self) -> None:
        """Stop the catch-up (if still running) and the jobs (running ones are cancelled)."""
        if self.startup is not None and not self.startup.done():
            self.startup.cancel()
            await asyncio.gather(self.startup, return_exceptions=True)
        self.startup = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
            log.info("scheduler stopped")


class _Updates:
    """Telegram's receiver: our long polling (`bot.telegram.polling`) or webhook server
    (`bot.telegram.webhook`); both confirm an update to Telegram only after processing it."""

    def __init__(self, application: TelegramApp, config: Settings, tasks: _Tasks) -> None:
        self.application = application
        self.config = config
        self.tasks = tasks
        self.stop_polling = asyncio.Event()
        self.polling: asyncio.Task[None] | None = None
        self.webhook: WebhookServer | None = None

    async def start(self, *, webhook: bool) -> None:
        if webhook:
            self.webhook = await start_webhook(self.application, self.config)
            config = self.config
            log.info("webhook server on %s:%s", config.webhook_listen, config.webhook_port)
        else:
            self.polling = self.tasks.start(
                run_polling(self.application, self.stop_polling), "telegram polling"
            )
            log.info("long polling started")

    async def stop(self) -> None:
        """Stop receiving; the updates in progress finish (and are confirmed) first."""
        self.stop_polling.set()
        if self.polling is not None:
            await asyncio.gather(self.polling, return_exceptions=True)
        if self.webhook is not None:
            await self.webhook.stop()


async def run_service(
    config: Settings,
    *,
    webhook: bool,
    stop: asyncio.Event,
    clock: Clock = system_clock,
) -> None:
    """Run the whole bot until `stop` is set; see the module docstring. `webhook` is
    Telegram's mode (Zalo's follows CADREBOT_ZALO_WEBHOOK_URL)."""
    db = Database.from_url(config.database_url)
    try:
        if telegram_enabled(config):
            application = build_application(config, db=db, clock=clock)
            async with application:  # initialize() ... shutdown()
                await _serve(db, config, application, webhook=webhook, stop=stop, clock=clock)
        else:
            await _serve(db, config, None, webhook=webhook, stop=stop, clock=clock)
    finally:
        await db.dispose()
    log.info("stopped")


async def _serve(
    db: Database,
    config: Settings,
    application: TelegramApp | None,
    *,
    webhook: bool,
    stop: asyncio.Event,
    clock: Clock,
) -> None:
    channels: list[Channel] = []
    if application is not None:
        await set_default_menu(application.bot)
        channels.append(TelegramChannel(application.bot))
    zalo: ZaloService | None = build_zalo(config, db, clock=clock) if zalo_enabled(config) else None
    try:
        if zalo is not None:
            channels.append(zalo.channel)
        await _serve_channels(
            db, config, application, zalo, channels, webhook=webhook, stop=stop, clock=clock
        )
    finally:
        if zalo is not None:
            await zalo.aclose()


async def _serve_channels(
    db: Database,
    config: Settings,
    application: TelegramApp | None,
    zalo: ZaloService | None,
    channels: list[Channel],
    *,
    webhook: bool,
    stop: asyncio.Event,
    clock: Clock,
) -> None:
    sender = Sender(db, channels, RateLimiter(rate=config.send_rate), clock=clock)
    tasks = _Tasks()
    scheduling = _Scheduling(db, clock, config, tasks)
    leadership = Leadership(db.engine, interval=config.leader_interval)
    sender_stop, leader_stop, zalo_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    sender_task = leader_task = zalo_task = web_task = None
    updates = _Updates(application, config, tasks) if application is not None else None
    web = WebServer(db, config, clock) if config.web_url else None
    try:
        if web is not None:
            await web.start()
            web_task = tasks.start(web.watch(), "web console")
        if application is not None and updates is not None:
            await application.start()
            await updates.start(webhook=webhook)
        if zalo is not None:
            zalo_task = tasks.start(
                run_zalo(config, db, clock, zalo_stop, service=zalo), "zalo channel"
            )
        sender_task = tasks.start(sender.run_forever(sender_stop), "outbox sender")
        leader_task = tasks.start(
            leadership.run(scheduling.elected, scheduling.lost, leader_stop),
            "scheduler leadership",
        )
        await _first(stop, tasks.failed)
    finally:
        leader_stop.set()
        if leader_task is not None:
            await asyncio.gather(leader_task, return_exceptions=True)
        await scheduling.lost()  # in case the leadership task ended without it
        zalo_stop.set()
        if zalo_task is not None:
            await asyncio.gather(zalo_task, return_exceptions=True)
        sender_stop.set()
        if sender_task is not None and not sender_task.done():
            try:
                await asyncio.wait_for(asyncio.shield(sender_task), SENDER_GRACE)
            except TimeoutError:
                sender_task.cancel()
                await asyncio.gather(sender_task, return_exceptions=True)
                log.warning(
                    "the sender did not finish its drain in %.0f s; cancelled", SENDER_GRACE
                )
        if updates is not None:
            await updates.stop()
        if application is not None and application.running:
            await application.stop()
        if web is not None:
            await web.stop()
        if web_task is not None:
            await asyncio.gather(web_task, return_exceptions=True)
    if tasks.failure is not None:
        raise tasks.failure


async def _first(*events: asyncio.Event) -> None:
    """Until one of `events` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
