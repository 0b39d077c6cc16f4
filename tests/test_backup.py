"""`cadrebot backup` / `cadrebot restore` on SQLite: a backup taken while the bot writes holds
every row committed before it started (one snapshot, nothing half-written), restores into a
sound database, and restore refuses damaged, foreign or in-use files."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from storage.backup import (
    BackupProblem,
    DatabaseInUse,
    RestoreRefused,
    backup_sqlite,
    check_backup,
    in_use,
    restore_sqlite,
)
from storage.db import Database
from storage.migrate import head_revision, upgrade
from storage.models import Person
from storage.people import create_person
from tests.cli_fixtures import ops_cli

T0 = datetime(2016, 9, 30, 1, 0, tzinfo=UTC)


@dataclass
class Live:
    path: Path
    db: Database


async def _fresh(path: Path, people: int = 0) -> Database:
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    await upgrade(db.engine)
    for n in range(people):
        async with db.write() as session:
            await create_person(session=session, full_name=f"Người {n}", now=T0)
    return db


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    path = tmp_path / "cadrebot.db"
    db = await _fresh(path, people=50)
    yield Live(path, db)
    await db.dispose()


def person_ids(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM person ORDER BY id")]
    finally:
        conn.close()


async def test_backup_under_continuous_writes_holds_every_row_committed_before(
    live: Live, tmp_path: Path
) -> None:
    committed: list[int] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    during = threading.Event()  # set once the writer has committed rows during the backup
    mark: list[int] = []
    warmed_up = asyncio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            async with live.db.write() as session:
                person = await create_person(
                    session=session, full_name=f"Đang ghi {n}", now=T0 + timedelta(seconds=n)
                )
            assert person.id is not None
            committed.append(person.id)  # after the commit
            n += 1
            if n >= 10:
                warmed_up.set()
            if mark and len(committed) >= mark[0] + 20:
                during.set()
            await asyncio.sleep(0)

    task = loop.create_task(writer())
    await asyncio.wait_for(warmed_up.wait(), timeout=30)
    before = list(committed) + list(range(1, 51))  # the 50 seeded ones, and ten more
    steps: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        steps.append((done, total))
        if len(steps) == 1:  # hold the copy half-way until the bot has written more
            assert during.wait(timeout=30), "the writer made no progress during the backup"

    backup = tmp_path / "saved" / "backup.db"
    mark.append(len(committed))
    await asyncio.to_thread(backup_sqlite, live.path, backup, pages=2, progress=progress)
    stop.set()
    await task

    assert len(steps) > 1 and steps[-1][0] == steps[-1][1]  # copied in steps, to the end
    assert [t for _, t in steps] == [steps[0][1]] * len(steps)  # never restarted
    restored = tmp_path / "restored" / "cadrebot.db"
    result = restore_sqlite(backup, restored, now=T0)
    assert result.previous is None and result.revision == head_revision()
    assert check_backup(restored).ok
    ids = person_ids(restored)
    assert set(before) <= set(ids)
    # One snapshot: exactly the writes committed up to some moment, none half-way.
    everything = sorted(set(range(1, 51)) | set(committed))
    assert ids == everything[: len(ids)]
    assert len(ids) < len(everything)  # the bot went on writing during the copy
    db = Database.from_url(f"sqlite+aiosqlite:///{restored}")
    try:
        async with db.read() as session:
            names = (await session.execute(select(col(Person.full_name)))).scalars().all()
    finally:
        await db.dispose()
    assert len(names) == len(ids)


async def test_restore_refuses_a_database_in_use_unless_forced(live: Live, tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    backup_sqlite(live.path, backup)
    async with live.db.write() as session:
        await create_person(session=session, full_name="Sau sao lưu", now=T0)
    assert in_use(live.path)  # the engine keeps its connection open
    with pytest.raises(DatabaseInUse):
        restore_sqlite(backup, live.path, now=T0)
    assert len(person_ids(live.path)) == 51

    result = restore_sqlite(backup, live.path, force=True, now=T0)
    await live.db.dispose()

    assert result.previous is not None
    assert result.previous.parent == live.path.parent
    assert result.previous.name.startswith("cadrebot.db.") and result.previous.suffix == ".bak"
    assert len(person_ids(live.path)) == 50
    assert len(person_ids(result.previous)) == 51  # the replaced database, its WAL included
    assert check_backup(live.path).ok and check_backup(result.previous).ok


async def test_a_second_restore_keeps_the_first_kept_copy(live: Live, tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    backup_sqlite(live.path, backup)
    async with live.db.write() as session:
        await create_person(session=session, full_name="Chỉ có trong bản cũ", now=T0)
    await live.db.dispose()
    first = restore_sqlite(backup, live.path, now=T0)
    second = restore_sqlite(backup, live.path, now=T0)  # the same second, even
    third = restore_sqlite(backup, live.path, now=T0 + timedelta(hours=1))
    kept = [first.previous, second.previous, third.previous]
    assert all(path is not None and path.exists() for path in kept)
    assert len(set(kept)) == 3
    assert first.previous is not None
    assert len(person_ids(first.previous)) == 51  # the only copy with the late person survives


async def test_restore_over_a_closed_database_needs_no_force(live: Live, tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    backup_sqlite(live.path, backup)
    async with live.db.write() as session:
        await create_person(session=session, full_name="Sau sao lưu", now=T0)
    await live.db.dispose()
    assert not in_use(live.path)
    restore_sqlite(backup, live.path, now=T0)
    assert len(person_ids(live.path)) == 50
    assert not live.path.with_name("cadrebot.db-wal").exists()


def _refusal(path: Path, target: Path) -> BackupProblem | None:
    with pytest.raises(RestoreRefused) as caught:
        restore_sqlite(path, target, now=T0)
    assert not target.exists()  # nothing was installed
    return caught.value.check.problem


async def test_restore_refuses_what_is_not_a_sound_cadrebot_database(
    live: Live, tmp_path: Path
) -> None:
    target = tmp_path / "target.db"
    assert _refusal(tmp_path / "nope.db", target) is BackupProblem.MISSING

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"PK\x03\x04 not a database" * 100)
    assert _refusal(garbage, target) is BackupProblem.NOT_SQLITE

    plain = tmp_path / "plain.db"
    conn = sqlite3.connect(plain)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert _refusal(plain, target) is BackupProblem.NO_VERSION

    good = tmp_path / "good.db"
    backup_sqlite(live.path, good)
    assert check_backup(good).ok

    newer = tmp_path / "newer.db"
    backup_sqlite(good, newer)
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    conn.commit()
    conn.close()
    assert _refusal(newer, target) is BackupProblem.UNKNOWN_VERSION

    partial = tmp_path / "partial.db"
    backup_sqlite(good, partial)
    conn = sqlite3.connect(partial)
    conn.execute("DROP TABLE draft")
    conn.commit()
    conn.close()
    assert _refusal(partial, target) is BackupProblem.MISSING_TABLES

    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page : 4 * page] = b"\xa5" * (2 * page)
    damaged.write_bytes(bytes(data))
    assert _refusal(damaged, target) is BackupProblem.CORRUPT


async def test_cli_backup_and_restore(live: Live, tmp_path: Path) -> None:
    runner = CliRunner(env={"CADREBOT_DATABASE_URL": f"sqlite:///{live.path}", "COLUMNS": "300"})
    backup = tmp_path / "b.db"
    result = await asyncio.to_thread(runner.invoke, ops_cli(), ["backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Đã sao lưu cơ sở dữ liệu vào" in result.output
    assert len(person_ids(backup)) == 50

    refused = await asyncio.to_thread(runner.invoke, ops_cli(), ["restore", str(backup)])
    assert refused.exit_code == 1
    assert "đang được mở" in refused.output
    await live.db.dispose()
    done = await asyncio.to_thread(runner.invoke, ops_cli(), ["restore", str(backup)])
    assert done.exit_code == 0, done.output
    assert "Đã phục hồi" in done.output and ".bak" in done.output
    assert list(live.path.parent.glob("cadrebot.db.*.bak"))

    bad = tmp_path / "bad.db"
    bad.write_text("hello")
    refused = await asyncio.to_thread(runner.invoke, ops_cli(), ["restore", str(bad), "--force"])
    assert refused.exit_code == 1
    assert "không phải cơ sở dữ liệu SQLite" in refused.output


def test_cli_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://cadre:secret@db.example:5432/cadrebot"
    runner = CliRunner(env={"CADREBOT_DATABASE_URL": url, "COLUMNS": "400"})
    result = runner.invoke(ops_cli(), ["backup", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "pg_dump -Fc" in text and "postgresql://cadre:***@db.example:5432/cadrebot" in text
    assert "secret" not in text
    result = runner.invoke(ops_cli(), ["restore", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "pg_restore" in result.output
