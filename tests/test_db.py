"""The engine setup: pragmas on SQLite, plan cache mode on PostgreSQL, aware timestamps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from storage.db import Database
from storage.models import Level, Person


async def test_sqlite_pragmas_and_pg_settings(db: Database, backend: str) -> None:
    async with db.read() as session:
        if backend == "sqlite":
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() >= 5000
        else:
            mode = (await session.execute(text("SHOW plan_cache_mode"))).scalar_one()
            assert mode == "auto"


async def test_timestamps_come_back_aware_in_utc(db: Database) -> None:
    hanoi = timezone(timedelta(hours=7))
    moment = datetime(2016, 9, 30, 23, 59, tzinfo=hanoi)
    async with db.write() as session:
        session.add(Person(full_name="Nguyễn Văn A", created_at=moment))
    async with db.read() as session:
        person = (await session.execute(select(Person))).scalar_one()
    assert person.created_at == moment
    assert person.created_at.tzinfo is not None
    assert person.created_at.utcoffset() == timedelta(0)
    assert person.created_at.astimezone(hanoi).hour == 23


async def test_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with db.write() as session:
            session.add(Person(full_name="X", created_at=datetime(2016, 1, 1)))  # noqa: DTZ001
            await session.flush()
    async with db.read() as session:
        assert (await session.execute(select(Person))).first() is None


async def test_write_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            session.add(Level(code="tinh", label_vi="Cấp tỉnh", label_en="Province"))
            await session.flush()
            raise RuntimeError("boom")
    async with db.read() as session:
        assert (await session.execute(select(Level))).first() is None


async def test_vietnamese_text_round_trips(db: Database) -> None:
    name = "Chi bộ thôn Đông Xá, xã Đông Phong"
    async with db.write() as session:
        session.add(Person(full_name=name, created_at=datetime(2016, 1, 1, tzinfo=UTC)))
    async with db.read() as session:
        assert (await session.execute(select(col(Person.full_name)))).scalar_one() == name


async def test_fifty_concurrent_write_transactions_all_commit(db: Database) -> None:
    """On SQLite the writers queue in the process (never on the busy timeout); on PostgreSQL
    they run side by side. Each transaction reads, yields to the others, then writes."""
    moment = datetime(2016, 9, 29, 3, 0, tzinfo=UTC)

    async def one(index: int) -> None:
        async with db.write() as session:
            await session.execute(select(col(Person.id)))
            await asyncio.sleep(0)  # let the other 49 try to start theirs meanwhile
            session.add(Person(full_name=f"Người {index}", created_at=moment))

    await asyncio.gather(*(one(i) for i in range(50)))
    async with db.read() as session:
        names = set((await session.execute(select(col(Person.full_name)))).scalars())
    assert names == {f"Người {i}" for i in range(50)}


async def test_sqlite_writers_queue_in_process_before_begin(db: Database, backend: str) -> None:
    """While one write transaction is open, a second one waits for it before BEGIN (SQLite);
    on PostgreSQL the second one starts at once."""
    if backend != "sqlite":
        pytest.skip("the in-process write queue is for SQLite only")
    entered = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with db.write() as session:
            await session.execute(select(col(Person.id)))
            entered.set()
            await release.wait()
            order.append("first")

    async def second() -> None:
        await entered.wait()
        async with db.write() as session:
            await session.execute(select(col(Person.id)))
            order.append("second")

    task_first, task_second = asyncio.create_task(first()), asyncio.create_task(second())
    await entered.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    assert order == []  # the second is queued, not inside a transaction
    release.set()
    await asyncio.gather(task_first, task_second)
    assert order == ["first", "second"]
