"""scheduler.leader.Leadership: exactly one leader among workers sharing a PostgreSQL database
(advisory lock), a takeover when the leader's session dies or it stops, and on SQLite this
process at once. PostgreSQL cases run only when CADREBOT_TEST_POSTGRES_URL is set (each on a
fresh database from the `database_url` fixture)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.leader import LEADER_LOCK_KEY, Leadership
from storage.db import create_engine

INTERVAL = 0.2  # seconds between attempts and checks
WITHIN = 120.0  # seconds any expected change may take (a generous bound, never slept)

pg = pytest.mark.parametrize("backend", ["postgresql"])


@dataclass
class Worker:
    """One worker's leadership, run in a task, with what its callbacks saw."""

    leadership: Leadership
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def _elected(self) -> None:
        self.events.append("elected")
        self.changed.set()

    async def _lost(self) -> None:
        self.events.append("lost")
        self.changed.set()

    def start(self) -> None:
        self.task = asyncio.create_task(self.leadership.run(self._elected, self._lost, self.stop))

    async def halt(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, WITHIN)


async def until(condition: Callable[[], bool], within: float = WITHIN) -> None:
    """Wait (polling the event loop, bounded) until `condition()` holds."""

    async def check() -> None:
        # The conditions read plain attributes (attempts, is_leader) that no event announces.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(check(), within)


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    made = [create_engine(database_url) for _ in range(3)]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


@pytest.fixture
async def workers(engines: list[AsyncEngine]) -> AsyncIterator[list[Worker]]:
    """Two workers, each with its own engine (as two processes would have)."""
    made = [Worker(Leadership(engine, interval=INTERVAL)) for engine in engines[:2]]
    try:
        yield made
    finally:
        for worker in made:
            if worker.task is not None and not worker.task.done():
                await worker.halt()


def leaders(workers: list[Worker]) -> list[Worker]:
    return [w for w in workers if w.leadership.is_leader]


async def lock_holder(engine: AsyncEngine) -> int | None:
    """The backend pid that holds the leader lock in this database, if any."""
    high, low = divmod(LEADER_LOCK_KEY % (1 << 64), 1 << 32)
    async with engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :high AND objid = :low AND objsubid = 1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"high": high, "low": low},
        )
        pid = result.scalar_one_or_none()
    return None if pid is None else int(pid)


@pg
async def test_two_workers_elect_exactly_one_leader(workers: list[Worker]) -> None:
    for worker in workers:
        worker.start()
    await until(lambda: len(leaders(workers)) == 1)
    follower = next(w for w in workers if not w.leadership.is_leader)
    tried = follower.leadership.attempts
    await until(lambda: follower.leadership.attempts >= tried + 3)  # it keeps trying, in vain

    assert len(leaders(workers)) == 1
    assert leaders(workers)[0].events == ["elected"]
    assert follower.events == []


@pg
async def test_when_the_leaders_session_is_killed_the_other_takes_over(
    workers: list[Worker], engines: list[AsyncEngine], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.leader")
    for worker in workers:
        worker.start()
    await until(lambda: len(leaders(workers)) == 1)
    old = leaders(workers)[0]
    new = next(w for w in workers if w is not old)
    pid = await lock_holder(engines[2])
    assert pid is not None

    admin = engines[2].execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:  # what PostgreSQL does when the leader's process dies
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killed_at = asyncio.get_running_loop().time()

    await until(lambda: new.events == ["elected"])
    # Within the follower's retry interval (plus the time one attempt takes).
    assert asyncio.get_running_loop().time() - killed_at < INTERVAL + 2.0
    await until(lambda: old.events == ["elected", "lost"])
    assert leaders(workers) == [new]
    assert await lock_holder(engines[2]) not in (None, pid)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("scheduler leader lost") for m in messages)
    assert sum(m.startswith("scheduler leader elected") for m in messages) == 2


@pg
async def test_a_leader_that_stops_releases_the_lock_at_once(
    workers: list[Worker], engines: list[AsyncEngine]
) -> None:
    first, second = workers
    first.start()
    await until(lambda: first.leadership.is_leader)
    second.start()
    await until(lambda: second.leadership.attempts >= 2)
    assert not second.leadership.is_leader

    await first.halt()
    assert first.events == ["elected", "lost"]  # the scheduler stopped before the lock went
    await until(lambda: second.events == ["elected"])
    assert await lock_holder(engines[2]) is not None


@pg
async def test_an_unreachable_database_is_retried_without_failing(database_url: str) -> None:
    engine = create_engine(make_url(database_url).set(port=1))  # nothing listens there
    worker = Worker(Leadership(engine, interval=INTERVAL, timeout=2.0))
    try:
        worker.start()
        await until(lambda: worker.leadership.attempts >= 2)
        assert worker.task is not None and not worker.task.done()
        await worker.halt()
    finally:
        await engine.dispose()
    assert worker.events == []


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_on_sqlite_this_process_leads_at_once(workers: list[Worker]) -> None:
    worker = workers[0]
    worker.start()
    await until(lambda: worker.events == ["elected"])
    assert worker.leadership.attempts == 0  # no lock on SQLite
    await worker.halt()
    assert worker.events == ["elected", "lost"]
