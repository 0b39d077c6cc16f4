"""Scale-out on PostgreSQL: two real `cadrebot run --webhook` workers (subprocesses, each with its
own webhook port) on one fresh database, sharing the fake Bot API over HTTP.

Exactly one worker becomes the scheduler leader and runs the start-up catch-up (which queues the
admin's weekly digest); outbox rows are delivered exactly once across both workers; after the
leader is killed with SIGKILL the other worker takes the leadership within a few of its
CADREBOT_LEADER_INTERVAL, runs the catch-up again without doubling the digest (outbox keys), and
still delivers. Runs only when CADREBOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from scheduler.jobs import KIND_DIGEST
from storage import outbox
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.migrate import upgrade
from storage.models import CHANNEL_TELEGRAM, ROLE_ADMIN, Outbox, Unit
from storage.people import ChatAccount, bind_identity, create_person, grant_role
from storage.units import ensure_default_levels
from tests.botapi_stub import BotApiStub
from tests.test_run_e2e import CLI, load_world

# Two bot processes with a leader election and a SIGKILL: a long end-to-end test (slow).
pytestmark = [pytest.mark.parametrize("backend", ["postgresql"]), pytest.mark.slow]

TOKEN = "123:TEST"
ADMIN_CHAT = 990001
LEADER_INTERVAL = 1  # seconds (production: 15)
# A bound, never slept: each wait ends as soon as its condition holds, and fails at once when a
# worker that should run has exited. Generous, so that a busy machine never fails the test.
WITHIN = 120.0  # seconds any expected change may take (start-up included)
ELECTED = "scheduler leader elected"
FOLLOWER = "scheduler follower"
CATCH_UP = "catch-up at"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    name: str
    port: int
    logfile: Path
    process: asyncio.subprocess.Process | None = None

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def count(self, text: str) -> int:
        return self.log().count(text)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


def _logs(workers: list[Worker]) -> str:
    return "\n".join(f"--- {w.name}:\n{w.log()}" for w in workers)


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str,
    workers: list[Worker],
    running: list[Worker] | None = None,
) -> None:
    """Wait (bounded by WITHIN) until `condition()` holds; fail with the workers' logs on
    timeout, or at once when one of `running` (default: all `workers`) has exited."""

    async def holds() -> bool:
        value = condition()
        return await value if inspect.isawaitable(value) else value

    async def check() -> None:
        # Log files and database rows announce nothing: look again every 0.1 s.
        while not await holds():
            for worker in workers if running is None else running:
                if not worker.alive:
                    raise AssertionError(
                        f"{worker.name} exited while waiting for {what}\n{_logs(workers)}"
                    )
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(check(), WITHIN)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}\n{_logs(workers)}") from None


async def healthy(http: httpx.AsyncClient, worker: Worker) -> bool:
    """The worker's webhook server answers `GET /healthz` (its readiness signal)."""
    try:
        answer = await http.get(f"http://127.0.0.1:{worker.port}/healthz")
    except httpx.TransportError:
        return False
    return answer.status_code == 200 and answer.text == "ok"


async def prepare(database_url: str, workdir: Path) -> int:
    """Schema, units, the built-in campaign, and an admin of the province with a Telegram
    account (the digest's recipient). Returns the admin's person id."""
    db = Database.from_url(database_url)
    try:
        await upgrade(db.engine)
        async with db.write() as session:
            await ensure_default_levels(session=session)
    finally:
        await db.dispose()
    await load_world(database_url, workdir)
    now = datetime.now(UTC)
    db = Database.from_url(database_url)
    try:
        async with db.write() as session:
            province = (
                await session.execute(select(col(Unit.id)).where(col(Unit.code) == "T"))
            ).scalar_one()
            admin = await create_person(session=session, full_name="Trần Thị Quản", now=now)
            assert admin.id is not None
            await bind_identity(
                session=session,
                person_id=admin.id,
                account=ChatAccount(CHANNEL_TELEGRAM, str(ADMIN_CHAT), str(ADMIN_CHAT), "vi"),
                now=now,
            )
            await grant_role(
                session=session, person_id=admin.id, kind=ROLE_ADMIN, unit_id=province, now=now
            )
            return admin.id
    finally:
        await db.dispose()


async def queue(database_url: str, chats: range, prefix: str) -> None:
    """One nudge to each chat in `chats` (a new person each)."""
    now = datetime.now(UTC)
    db = Database.from_url(database_url)
    try:
        async with db.write() as session:
            for chat in chats:
                person = await create_person(session=session, full_name=f"Người {chat}", now=now)
                assert person.id is not None
                await bind_identity(
                    session=session,
                    person_id=person.id,
                    account=ChatAccount(CHANNEL_TELEGRAM, str(chat), str(chat), "vi"),
                    now=now,
                )
                await outbox.enqueue(
                    session=session,
                    key=f"{prefix}:{chat}",
                    kind="nudge",
                    person_id=person.id,
                    payload=OutgoingMessage(text=f"{prefix} {chat}").to_payload(),
                    now=now,
                )
    finally:
        await db.dispose()


async def outbox_rows(database_url: str) -> list[Outbox]:
    db = Database.from_url(database_url)
    try:
        async with db.read() as session:
            return list((await session.execute(select(Outbox))).scalars().all())
    finally:
        await db.dispose()


@dataclass
class Cluster:
    stub: BotApiStub
    database_url: str
    workers: list[Worker]
    admin_id: int

    def texts_to(self, chat: int) -> list[str]:
        return [c.text for c in self.stub.messages_to(chat)]

    def delivered(self, chats: range) -> bool:
        return all(self.texts_to(chat) for chat in chats)


@pytest.fixture
async def cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    admin_id = await prepare(database_url, tmp_path)
    stub = BotApiStub(token=TOKEN)
    await stub.start()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CADREBOT_")}
    workers = [Worker(n, free_port(), tmp_path / f"{n}.log") for n in ("w1", "w2")]
    try:
        for worker in workers:
            env = {
                **base,
                "CADREBOT_DATABASE_URL": database_url,
                "CADREBOT_TELEGRAM_TOKEN": TOKEN,
                "CADREBOT_TELEGRAM_API_URL": stub.base_url,
                "CADREBOT_WEBHOOK_URL": "https://bot.example.invalid/telegram",
                "CADREBOT_WEBHOOK_LISTEN": "127.0.0.1",
                "CADREBOT_WEBHOOK_PORT": str(worker.port),
                "CADREBOT_WEBHOOK_SECRET": "shared-secret",
                "CADREBOT_LEADER_INTERVAL": str(LEADER_INTERVAL),
                "CADREBOT_LOG_LEVEL": "INFO",
            }
            with worker.logfile.open("ab") as log:
                worker.process = await asyncio.create_subprocess_exec(
                    *CLI, "run", "--webhook", env=env, cwd=tmp_path, stdout=log, stderr=log
                )
        yield Cluster(stub, database_url, workers, admin_id)
    finally:
        for worker in workers:
            if worker.alive:
                assert worker.process is not None
                worker.process.kill()
                await worker.process.wait()
        await stub.close()


async def test_two_workers_one_leader_each_message_once_and_a_takeover(cluster: Cluster) -> None:
    workers = cluster.workers
    async with httpx.AsyncClient(timeout=WITHIN) as http:
        for worker in workers:
            await until(lambda w=worker: healthy(http, w), f"{worker.name} up", workers)

    # Exactly one leader; the other follows; only the leader ran the catch-up.
    await until(
        lambda: (
            sum(w.count(ELECTED) for w in workers) == 1
            and sum(w.count(FOLLOWER) for w in workers) == 1
            and sum(w.count(CATCH_UP) for w in workers) == 1
        ),
        "one leader, one follower, one catch-up",
        workers,
    )
    leader = next(w for w in workers if w.count(ELECTED))
    follower = next(w for w in workers if w is not leader)
    assert leader.count(CATCH_UP) == 1 and follower.count(CATCH_UP) == 0

    # Outbox rows queued while both run: each delivered once, across both workers.
    first = range(700001, 700041)
    await queue(cluster.database_url, first, "lot1")

    async def all_sent(prefix: str) -> bool:
        rows = await outbox_rows(cluster.database_url)
        mine = [r for r in rows if r.key.startswith(prefix)]
        return bool(mine) and all(r.status == outbox.STATUS_SENT for r in mine)

    await until(lambda: cluster.delivered(first) and all_sent("lot1"), "the first lot", workers)
    for chat in first:
        assert cluster.texts_to(chat) == [f"lot1 {chat}"]
    rows = await outbox_rows(cluster.database_url)

    # The catch-up's digest pass queued the admin's weekly digest once.
    digests = [r for r in rows if r.kind == KIND_DIGEST]
    assert [r.person_id for r in digests] == [cluster.admin_id]

    to_admin = cluster.texts_to(ADMIN_CHAT)
    if digests[0].status == outbox.STATUS_SENT:  # else held back by quiet hours (21:00-07:00)
        assert to_admin

    # SIGKILL the leader: the follower takes over within a few intervals and catches up again
    # without a second digest.
    assert leader.process is not None
    leader.process.kill()
    await leader.process.wait()
    survivor = [follower]
    await until(lambda: follower.count(ELECTED) == 1, "the takeover", workers, survivor)
    await until(
        lambda: follower.count(CATCH_UP) == 1, "the new leader's catch-up", workers, survivor
    )
    rows = await outbox_rows(cluster.database_url)
    assert [r.key for r in rows if r.kind == KIND_DIGEST] == [d.key for d in digests]

    # The survivor still delivers, once.
    second = range(800001, 800011)
    await queue(cluster.database_url, second, "lot2")
    await until(lambda: cluster.delivered(second), "the second lot", workers, survivor)
    for chat in second:
        assert cluster.texts_to(chat) == [f"lot2 {chat}"]
    assert cluster.texts_to(ADMIN_CHAT) == to_admin  # no second digest from the new leader
    assert follower.alive
    assert follower.process is not None
    follower.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(follower.process.wait(), WITHIN) == 0, follower.log()
    assert "Traceback" not in follower.log()
    assert TOKEN not in leader.log() + follower.log()
