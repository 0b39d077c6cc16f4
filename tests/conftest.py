"""Shared fixtures. `db` runs every storage test on SQLite and, when CADREBOT_TEST_POSTGRES_URL is
set, on PostgreSQL too, from the same test code (a fresh schema per test run)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database, create_engine, normalise_url
from storage.models import metadata

POSTGRES_URL = os.environ.get("CADREBOT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]

_pg_skipped: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL:
        return
    marker = pytest.mark.skip(reason="PostgreSQL: CADREBOT_TEST_POSTGRES_URL is not set")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(marker)
            _pg_skipped.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_skipped:
        terminalreporter.write_line(
            f"NOTE: {len(_pg_skipped)} PostgreSQL storage tests were SKIPPED because "
            "CADREBOT_TEST_POSTGRES_URL is not set; only SQLite was tested.",
            yellow=True,
            bold=True,
        )
    elif POSTGRES_URL:
        terminalreporter.write_line("Storage tests ran on SQLite and PostgreSQL.", green=True)


async def _pg_admin(sql: str) -> None:
    assert POSTGRES_URL
    engine = create_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for a fresh, empty database (no tables) on the chosen backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    assert POSTGRES_URL
    name = f"cadrebot_t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield str(normalise_url(POSTGRES_URL).set(database=name))
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database with every table, on SQLite or PostgreSQL (a schema of its own)."""
    schema = f"cadrebot_t_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    else:
        await _pg_admin(f'CREATE SCHEMA "{schema}"')
        engine = create_engine(str(POSTGRES_URL), search_path=schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    database = Database(engine)
    try:
        yield database
    finally:
        await database.dispose()
        if backend == "postgresql":
            await _pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def now() -> datetime:
    return datetime(2016, 6, 1, 3, 0, tzinfo=UTC)
