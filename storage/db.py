"""Engine and transactions for SQLite (embedded default) and PostgreSQL (scale).

Storage functions take `session` as a keyword argument and never commit: the caller owns the
transaction through `Database.read()` or `Database.write()`.

Another process holding SQLite's write lock (a long `cadrebot reports import`, a backup) used to
make `write()` raise "database is locked" after the busy timeout, and the sender, the catch-up or
a scheduler pass died with it (and with them `cadrebot run`). `write()` now waits for the lock
with back-off (logging a warning each time) before running the body, so nothing was done yet
when it retries. Background writers wait as long as it takes; a chat turn runs under
`bounded_writes(seconds)` and gets `DatabaseBusy` instead, which the turn answers with the
catalog's "Hệ thống đang bận, đồng chí vui lòng thử lại sau ít phút" (`db.busy`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
LOCK_BACKOFF = (0.5, 30.0)  # seconds: the first wait after a locked BEGIN, and the cap
# Rows a bulk import writes per second, measured on the reference machine (docs/reliability.md:
# 20,000 units in 6.5 s; docs/benchmarks.md: the write of 5,000 checked paper reports in 0.7-5 s
# on the shared 2-core machine, 2026-12-04): the estimate a long import announces.
WRITE_RATE = {"units": 3000.0, "reports": 1000.0}
TURN_WRITE_WAIT = 40.0  # seconds a chat turn waits for the lock (Telegram retries after ~60 s)

_write_wait: ContextVar[float | None] = ContextVar("cadrebot_write_wait", default=None)


class DatabaseBusy(Exception):
    """Another process held SQLite's write lock for longer than this caller may wait."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"database locked by another writer for {waited:.0f} s")
        self.waited = waited


@contextmanager
def bounded_writes(seconds: float | None = None) -> Iterator[None]:
    """`Database.write()` calls inside (this task and the tasks it starts) wait at most
    `seconds` (default `TURN_WRITE_WAIT`) for a locked database, then raise DatabaseBusy."""
    token = _write_wait.set(TURN_WRITE_WAIT if seconds is None else seconds)
    try:
        yield
    finally:
        _write_wait.reset(token)


def write_estimate(kind: str, rows: int) -> str:
    """Whole seconds (at least 1) a bulk write of `rows` is expected to hold the write lock."""
    return str(max(1, round(rows / WRITE_RATE[kind])))


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy" (as the driver or SQLAlchemy)."""
    inner = exc.orig if isinstance(exc, OperationalError) else exc
    if not isinstance(inner, sqlite3.OperationalError | OperationalError):
        return False
    text = str(inner).lower()
    return "database is locked" in text or "database is busy" in text


def normalise_url(url: str | URL) -> URL:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in {"postgresql", "postgres"} and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def _install_sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so we can emit BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(
    url: str | URL,
    *,
    echo: bool = False,
    search_path: str | None = None,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> AsyncEngine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(
            parsed,
            echo=echo,
            connect_args={"timeout": busy_timeout_ms / 1000},
        )
        _install_sqlite_pragmas(engine, busy_timeout_ms)
        return engine
    # jit off: the figure statements' row estimates make the planner JIT-compile them, a fixed
    # ~0.4-1 s per statement that dwarfs their run time at the sizes a page or a digest reads.
    # plan_cache_mode is PostgreSQL's default, "auto": after five custom plans of a prepared
    # statement the server tries the generic plan and keeps planning each execution only when
    # the generic one is estimated clearly dearer. force_custom_plan (set here before) made the
    # chat turn's eight-table read re-planned at every turn, 0.37-0.55 ms of planning against
    # 0.08-0.15 ms of execution; "auto" took the PostgreSQL ingest from 38% to 50% of the durable
    # floor, and the figure, digest and dashboard benches did not get worse (docs/benchmarks.md,
    # Ingest, 2026-12-04 22:40). Stated explicitly so a server-side default cannot change it.
    server_settings = {
        "plan_cache_mode": "auto",
        "application_name": "cadrebot",
        "jit": "off",
    }
    if search_path:
        server_settings["search_path"] = search_path
    return create_async_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        connect_args={"server_settings": server_settings},
    )


class Database:
    """One engine plus two ways in: `read()` (deferred) and `write()` (immediate on SQLite).

    On SQLite only one write transaction can be open at a time. This process's writers queue on
    an `asyncio.Lock` before BEGIN IMMEDIATE, in arrival order, instead of polling SQLite's busy
    handler (whose sleeps waste time, and which gave up after its timeout when many turns were
    in flight). Another process (a CLI import, a backup) still meets the busy timeout, then
    the back-off described in the module docstring. A write transaction must not open another
    one inside it (it would wait for itself). PostgreSQL is unaffected: its writers run
    concurrently and lock rows."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lock_backoff: tuple[float, float] = LOCK_BACKOFF,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.lock_backoff = lock_backoff
        self.monotonic = monotonic
        self.is_sqlite = engine.dialect.name == "sqlite"
        writer = engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        self._reader = async_sessionmaker(engine, expire_on_commit=False)
        self._writer = async_sessionmaker(writer, expire_on_commit=False)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        # Awaited first by `dispose()`: writes deferred until then (storage.delivery_marks).
        self.before_dispose: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    def from_url(
        cls, url: str | URL, *, lock_backoff: tuple[float, float] = LOCK_BACKOFF, **kwargs: Any
    ) -> Database:
        return cls(create_engine(url, **kwargs), lock_backoff=lock_backoff)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A read-then-write transaction: commits on success, rolls back on any exception."""
        if self._write_lock is None:
            async with self._writer() as session, session.begin():
                yield session
            return
        async with self._write_lock:
            session = await self._begin_write()
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            finally:
                await session.close()

    async def _begin_write(self) -> AsyncSession:
        """A session whose BEGIN IMMEDIATE succeeded: retried with back-off while another
        process holds the write lock (up to the `bounded_writes` limit, if any)."""
        limit = _write_wait.get()
        started = self.monotonic()
        delay, cap = self.lock_backoff
        while True:
            session = self._writer()
            try:
                await session.connection()  # emits BEGIN IMMEDIATE now
                return session
            except OperationalError as exc:
                await session.close()
                if not is_locked(exc):
                    raise
                waited = self.monotonic() - started
                if limit is not None and waited + delay > limit:
                    raise DatabaseBusy(waited) from exc
                log.warning(
                    "database locked by another writer for %.0f s; trying again in %.1f s",
                    waited,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(cap, delay * 2)
            except BaseException:
                await session.close()
                raise

    async def dispose(self) -> None:
        for hook in list(self.before_dispose):
            try:
                await hook()
            except Exception as exc:  # disposing goes on: the engine must be released
                log.warning("a deferred write failed before dispose (%s)", type(exc).__name__)
        await self.engine.dispose()
