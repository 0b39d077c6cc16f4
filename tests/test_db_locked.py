"""Another process holding SQLite's write lock (a long CLI import) no longer kills the bot: the
outbox sender waits with back-off and sends once the lock is released; a chat turn waits a
bounded time, then tells the person the system is busy (one catalog line, nothing changed)."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from storage import outbox
from storage.db import Database, DatabaseBusy, bounded_writes, create_engine
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.models import metadata
from tests.sched_fixtures import FakeChannel, FakeClock, JumpTime, local, make_person

NOW = local(2016, 6, 9, 8)
OUTER = 30.0  # generous outer limit


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=20)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    db = Database(engine, lock_backoff=(0.01, 0.05))
    try:
        yield db, path
    finally:
        await db.dispose()


@contextmanager
def held_write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's long write transaction (as `cadrebot reports import`)."""
    other = sqlite3.connect(path, isolation_level=None, timeout=OUTER)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


@contextmanager
def signal_on_backoff() -> Iterator[asyncio.Event]:
    """An event set when `Database.write` reports that it waits for the lock."""
    event = asyncio.Event()

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "database locked by another writer" in record.getMessage():
                event.set()

    handler = Catch(logging.WARNING)
    logger = logging.getLogger("storage.db")
    logger.addHandler(handler)
    try:
        yield event
    finally:
        logger.removeHandler(handler)


async def test_the_sender_survives_a_held_write_lock_and_sends_after_release(
    sqlite_db: tuple[Database, Path],
) -> None:
    db, path = sqlite_db
    async with db.write() as session:
        person = await make_person(session, "Người nhận", chat_id="101")
        await outbox.enqueue(
            session=session,
            key="k-locked",
            kind="reminder",
            person_id=person.id,
            payload=OutgoingMessage(text="Kính gửi đồng chí").to_payload(),
            now=NOW,
        )
    channel = FakeChannel()
    jump = JumpTime()
    sender = Sender(
        db,
        [channel],
        RateLimiter(rate=25, clock=jump, sleep=jump.sleep),
        clock=FakeClock(NOW),
        rng=random.Random(7),
    )
    with signal_on_backoff() as waiting, held_write_lock(path) as other:
        drain = asyncio.create_task(sender.drain_once(NOW))
        await asyncio.wait_for(waiting.wait(), OUTER)
        assert not drain.done() and channel.texts_to("101") == []
        other.execute("COMMIT")
        stats = await asyncio.wait_for(drain, OUTER)
    assert stats.sent == 1 and channel.texts_to("101") == ["Kính gửi đồng chí"]


async def test_a_bounded_writer_gets_database_busy_and_nothing_is_written(
    sqlite_db: tuple[Database, Path],
) -> None:
    db, path = sqlite_db
    ran = False
    with held_write_lock(path), bounded_writes(0.2), pytest.raises(DatabaseBusy):
        async with db.write():
            ran = True
    assert not ran  # the body never ran: nothing half-done
    assert t("db.busy") == "Hệ thống đang bận, đồng chí vui lòng thử lại sau ít phút."
    # Unbounded again outside, and the lock is free: writes work.
    async with db.write() as session:
        await make_person(session, "Sau khi mở khoá", chat_id="102")


async def test_a_zalo_turn_on_a_locked_database_says_the_system_is_busy(
    sqlite_db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.db
    from storage.models import ProcessedUpdate
    from tests.zalo_fixtures import REPORTER, bind_zalo, open_zalo

    db, path = sqlite_db
    monkeypatch.setattr(storage.db, "TURN_WRITE_WAIT", 0.2)
    async with open_zalo(db) as zalo:
        await bind_zalo(db, zalo.world.reporter_id, REPORTER)
        with held_write_lock(path):
            replies = await asyncio.wait_for(zalo.send(REPORTER, "/tinhtrang"), OUTER)
        assert replies == [t("db.busy")]
        async with db.read() as session:
            assert (await session.execute(select(ProcessedUpdate))).first() is None
        # Once the lock is free the same message is answered normally.
        again = await zalo.send(REPORTER, "/tinhtrang")
        assert again and again != [t("db.busy")]


async def test_a_refused_unit_file_is_refused_without_waiting_for_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli.main import app

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cadrebot.db"
    runner = CliRunner(env={"CADREBOT_DATABASE_URL": f"sqlite:///{path}", "COLUMNS": "300"})
    assert (await asyncio.to_thread(runner.invoke, app, ["init"])).exit_code == 0
    bad = tmp_path / "units.csv"
    bad.write_text("code,name,level,parent_code,members\nX1,Xã 1,co_so,KHONG_CO,10\n")
    with held_write_lock(path):  # a regression would wait for it: bounded by OUTER
        result = await asyncio.wait_for(
            asyncio.to_thread(runner.invoke, app, ["units", "import", str(bad)]), OUTER
        )
    assert result.exit_code == 1
    assert "Dòng 2" in result.output and "Traceback" not in result.output
    good = tmp_path / "good.csv"
    good.write_text("code,name,level,parent_code,members\nT1,Tỉnh,tinh,,10\n")
    done = await asyncio.to_thread(runner.invoke, app, ["units", "import", str(good)])
    assert done.exit_code == 0, done.output
    assert "Đang ghi 1 dòng" in done.output and "ước tính khoảng 1 giây" in done.output


async def test_a_telegram_turn_on_a_locked_database_says_the_system_is_busy(
    sqlite_db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.db
    from tests.test_telegram_webhook import REPORTER, post, serving, texts

    db, path = sqlite_db
    monkeypatch.setattr(storage.db, "TURN_WRITE_WAIT", 0.2)
    async with serving(db) as server:
        with held_write_lock(path):
            response = await asyncio.wait_for(
                post(server, server.updates.text("/tinhtrang", REPORTER)), OUTER
            )
        # Not processed (Telegram will deliver it again); the person was told to retry.
        assert response.status_code == 500
        assert texts(server) == [t("db.busy")]
