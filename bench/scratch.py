"""What every benchmark needs around its measurement: a scratch PostgreSQL database or schema
made and dropped around a run, and its section of docs/benchmarks.md replaced in place."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text

from storage.db import Database, create_engine, normalise_url

T = TypeVar("T")

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


async def pg_admin(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE / DROP DATABASE)."""
    engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@asynccontextmanager
async def scratch_database(url: str) -> AsyncIterator[str]:
    """The URL of a fresh database on the server at `url`, dropped afterwards."""
    name = f"cadrebot_bench_{uuid.uuid4().hex[:10]}"
    await pg_admin(url, f'CREATE DATABASE "{name}"')
    try:
        yield str(normalise_url(url).set(database=name))
    finally:
        await pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def scratch_schema(url: str) -> AsyncIterator[str]:
    """The name of a fresh schema in the database at `url`, dropped afterwards."""
    schema = f"cadrebot_bench_{uuid.uuid4().hex[:8]}"
    await pg_admin(url, f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await pg_admin(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def on_engines(
    measure: Callable[[str, Database], Awaitable[T]], postgres: str | None
) -> dict[str, T]:
    """`measure(label, database)` on a fresh SQLite file and, with `postgres` (a server URL), on
    a scratch PostgreSQL database; each database disposed of afterwards."""
    results: dict[str, T] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            results["SQLite"] = await measure("SQLite", db)
        finally:
            await db.dispose()
    if postgres:
        async with scratch_database(postgres) as url:
            db = Database.from_url(url)
            try:
                results["PostgreSQL"] = await measure("PostgreSQL", db)
            finally:
                await db.dispose()
    return results


def replace_section(title: str, section: str, *, keep_dated: bool = False) -> None:
    """Put `section` (starting with "## `title`") in place of that section of docs/benchmarks.md,
    or at its end; the other sections stay. `keep_dated`: the dated "###" reruns recorded under
    the old section stay too (only the part before them is replaced)."""
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    end = r"(?=^## |^### |\Z)" if keep_dated else r"(?=^## |\Z)"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?{end}", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    DOCS.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
