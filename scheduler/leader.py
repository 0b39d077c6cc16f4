"""Which process runs the scheduler: one leader among the workers sharing a database.

On PostgreSQL every `cadrebot run` worker tries `pg_try_advisory_lock(LEADER_LOCK_KEY)` on a
connection of its own. The worker that gets the lock is the leader: `on_elected` runs (the
runtime starts the catch-up and the scheduled jobs) and the lock is held, on that one connection,
for as long as the leadership lasts. Every `interval` seconds the leader checks, with one cheap
query on that connection, that the lock is still its own; if the query fails (the connection
died, the server restarted, the session was terminated) or the lock is gone, the leadership is
lost: `on_lost` runs (the runtime stops the scheduler) and the worker becomes a follower again.
Followers retry every `interval` seconds, so when a leader dies (crash, SIGKILL, machine lost)
PostgreSQL ends its session, releases the lock, and a follower takes over within `interval`
seconds of that. The lock connection asks the server to probe the client with TCP keepalives,
so a leader whose machine vanished is noticed within about half a minute, not hours.

Between a leader's session ending on the server and the leader noticing (at most `interval`),
two schedulers may run at once; that is harmless because every pass is idempotent (outbox keys).

On SQLite there is only one process per database file: it is the leader at once, no lock.

A clean stop (`stop` set) calls `on_lost` first, then releases the lock, so the next leader's
scheduler never overlaps this one's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# One constant key for the whole product ("cadrebot" in ASCII, as a signed 64-bit integer).
# Advisory locks are per database, so two deployments on one server do not collide.
LEADER_LOCK_KEY = int.from_bytes(b"cadrebot", "big", signed=True)
DEFAULT_INTERVAL = 15.0
# Server-side TCP keepalive for the lock connection: idle 10 s, then every 5 s, 3 probes.
_KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}

Callback = Callable[[], Awaitable[None]]
_LOST = (SQLAlchemyError, OSError, TimeoutError)  # what a dead or unreachable server raises

_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    " AND granted AND classid = :high AND objid = :low AND objsubid = 1"
)


class Leadership:
    """Elect this process as the scheduler leader, or not. `engine`: the worker's engine (the
    lock connection is taken from it and closed, never returned to the pool, when the
    leadership ends). `interval`: seconds between a follower's attempts and between a leader's
    checks; `timeout`: how long one attempt or check may take (default: `interval`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        key: int = LEADER_LOCK_KEY,
        interval: float = DEFAULT_INTERVAL,
        timeout: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.engine = engine
        self.key = key
        self.interval = interval
        self.timeout = timeout if timeout is not None else interval
        self.is_leader = False
        self.attempts = 0  # tries to take the lock so far (observable by tests and operators)
        self._conn: AsyncConnection | None = None

    @property
    def uses_lock(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def run(self, on_elected: Callback, on_lost: Callback, stop: asyncio.Event) -> None:
        """Until `stop` is set: follow, lead when elected, follow again when the lock is lost.
        An exception from `on_elected` / `on_lost` ends the run (the lock is released)."""
        try:
            if not self.uses_lock:
                self.is_leader = True
                log.info("scheduler leader elected (SQLite: the only process)")
                await on_elected()
                await stop.wait()
                return
            following = False
            while not stop.is_set():
                got = await self._try_acquire()
                if got:
                    self.is_leader = True
                    log.info("scheduler leader elected (advisory lock %d)", self.key)
                    await on_elected()
                    if await self._hold(stop):
                        break
                    self.is_leader = False
                    following = False
                    log.warning("scheduler leader lost; the scheduler stops here")
                    await on_lost()
                    await self._close()
                elif got is False and not following:
                    following = True
                    log.info(
                        "scheduler follower: another worker leads; retrying every %g s",
                        self.interval,
                    )
                if await _wait(stop, self.interval):
                    break
        finally:
            if self.is_leader:
                self.is_leader = False
                try:
                    await on_lost()
                finally:
                    await self._release()
                    log.info("scheduler leadership released")
            await self._close()

    async def _try_acquire(self) -> bool | None:
        """One attempt: True when the lock is ours, False (nothing held) when another session
        has it, None (nothing held) when the database could not be reached."""
        self.attempts += 1
        try:
            conn = await asyncio.wait_for(self.engine.connect(), self.timeout)
        except _LOST as exc:
            log.warning("scheduler leadership: database unreachable (%s)", type(exc).__name__)
            return None
        self._conn = conn
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await asyncio.wait_for(
                self._scalar("SELECT pg_try_advisory_lock(:key)"), self.timeout
            )
            if got:
                for name, value in _KEEPALIVE.items():
                    await conn.execute(text(f"SET {name} = {int(value)}"))
        except _LOST as exc:
            log.warning("scheduler leadership: attempt failed (%s)", type(exc).__name__)
            await self._close()
            return None
        if not got:
            await self._close(keep=True)
        return bool(got)

    async def _hold(self, stop: asyncio.Event) -> bool:
        """Check the lock every `interval` until `stop` (True) or the lock is lost (False)."""
        while True:
            if await _wait(stop, self.interval):
                return True
            try:
                held = await asyncio.wait_for(self._held(), self.timeout)
            except _LOST as exc:
                log.warning(
                    "scheduler leadership: the lock connection failed (%s)", type(exc).__name__
                )
                return False
            if not held:
                return False

    async def _held(self) -> bool:
        high, low = divmod(self.key % (1 << 64), 1 << 32)
        assert self._conn is not None
        result = await self._conn.execute(_HELD, {"high": high, "low": low})
        return bool(result.scalar_one())

    async def _scalar(self, sql: str) -> object:
        assert self._conn is not None
        return (await self._conn.execute(text(sql), {"key": self.key})).scalar_one()

    async def _release(self) -> None:
        """Unlock on a clean stop (best effort: closing the connection releases it anyway)."""
        if self._conn is None:
            return
        try:
            await asyncio.wait_for(self._scalar("SELECT pg_advisory_unlock(:key)"), self.timeout)
        except _LOST as exc:
            log.warning("scheduler leadership: unlock failed (%s)", type(exc).__name__)

    async def _close(self, *, keep: bool = False) -> None:
        """Close the lock connection. `keep`: it holds no lock, so it may go back to the pool;
        otherwise it is invalidated (closed for good), so no pooled session keeps the lock."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not keep:
                await conn.invalidate()
            await conn.close()
        except _LOST as exc:
            log.debug("scheduler leadership: closing the lock connection: %s", type(exc).__name__)


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; True if it is set."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return event.is_set()
    return True
