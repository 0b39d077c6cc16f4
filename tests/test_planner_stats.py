"""An import that fills a table refreshes PostgreSQL's planner statistics in its own transaction,
so the figures asked right after it are planned for the rows it wrote, not for an empty table."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.planner_stats import BULK_ROWS, analyse_after_bulk
from storage.unit_import import UnitRow
from storage.units import ensure_default_levels, import_units


def _province(count: int) -> list[UnitRow]:
    rows = [UnitRow(2, "T1", "Đảng bộ tỉnh Hòa Bình", "tinh", None, 5_000)]
    rows += [
        UnitRow(3 + n, f"CS{n:04d}", f"Chi bộ thôn số {n + 1}", "co_so", "T1", 30)
        for n in range(count)
    ]
    return rows


async def _unit_rows_planned(db: Database) -> float:
    """The row count PostgreSQL's planner assumes for `unit` (-1: never analysed)."""
    async with db.read() as session:
        found = await session.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'unit'::regclass")
        )
        return float(found.scalar_one())


async def test_a_bulk_unit_import_leaves_the_planner_knowing_the_units(
    db: Database, backend: str, now: datetime
) -> None:
    async with db.write() as session:
        await ensure_default_levels(session=session)
        result = await import_units(session=session, rows=_province(BULK_ROWS + 100), now=now)
    assert result.created == BULK_ROWS + 101
    if backend == "postgresql":
        assert await _unit_rows_planned(db) == BULK_ROWS + 101


async def test_a_small_import_does_not_analyse(db: Database, backend: str, now: datetime) -> None:
    if backend != "postgresql":
        pytest.skip("statistics are PostgreSQL's")
    async with db.write() as session:
        await ensure_default_levels(session=session)
        await import_units(session=session, rows=_province(10), now=now)
    assert await _unit_rows_planned(db) <= 0  # left to autovacuum: not analysed yet


async def test_only_this_schema_s_tables_are_analysed(db: Database, backend: str) -> None:
    async with db.write() as session:
        with pytest.raises(ValueError):
            await analyse_after_bulk(
                session=session, tables=("unit; DROP TABLE unit",), rows=BULK_ROWS
            )
        ran = await analyse_after_bulk(session=session, tables=("unit",), rows=BULK_ROWS)
    assert ran is (backend == "postgresql")
    async with db.read() as session:  # the refused name ran nothing
        assert (await session.execute(text("SELECT count(*) FROM unit"))).scalar_one() == 0
