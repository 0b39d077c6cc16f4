"""The engine setup: pragmas on SQLite, plan cache mode on PostgreSQL, aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

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
            assert mode == "force_custom_plan"


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
        assert (await session.execute(select(Person.full_name))).scalar_one() == name
