"""Time the unit-tree import at national scale on a fresh SQLite file (and PostgreSQL).

    python -m bench.units_import [--units 300000] [--postgres postgresql://postgres@127.0.0.1/test]

Steps per engine: schema (Alembic) + default levels, import (read + validate + write), re-import
of the same file (must change nothing), one district moved to another province (subtree rewrite),
and a subtree query. Target: 300,000 units imported in under 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.gen_units import generate, write_csv
from bench.scratch import scratch_database
from storage.db import Database
from storage.migrate import upgrade
from storage.unit_import import UnitRow, parse_units_file
from storage.units import ImportResult, ensure_default_levels, import_units, subtree_units

NOW = datetime(2016, 6, 1, 3, 0, tzinfo=UTC)


async def _timed_import(db: Database, path: Path) -> tuple[ImportResult, float, float]:
    start = time.perf_counter()
    rows = parse_units_file(path)
    read = time.perf_counter() - start
    async with db.write() as session:
        result = await import_units(session=session, rows=rows, now=NOW)
    return result, read, time.perf_counter() - start


async def run_engine(label: str, url: str, path: Path, units: int) -> None:
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        async with db.write() as session:
            await ensure_default_levels(session=session)
        result, read, total = await _timed_import(db, path)
        assert result.created == units, result
        print(
            f"[{label}] import {units:,} units: {total:.1f} s "
            f"(reading the CSV {read:.1f} s) {result}"
        )
        result, read, total = await _timed_import(db, path)
        assert result.unchanged == units and result.total == units, result
        print(f"[{label}] re-import (no change): {total:.1f} s {result}")

        start = time.perf_counter()
        async with db.write() as session:
            moved = await import_units(
                session=session,
                rows=[UnitRow(2, "H0001", "Huyện ủy Di Chuyển", "huyen", "T02")],
                now=NOW,
            )
        elapsed = time.perf_counter() - start
        async with db.read() as session:
            below = await subtree_units(session=session, root_code="H0001")
        print(
            f"[{label}] move one district ({len(below):,} units in its subtree): "
            f"{elapsed:.2f} s {moved}"
        )
        start = time.perf_counter()
        async with db.read() as session:
            province = await subtree_units(session=session, root_code="T01")
        print(
            f"[{label}] subtree of one province ({len(province):,} units): "
            f"{time.perf_counter() - start:.2f} s"
        )
    finally:
        await db.dispose()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = args.csv or folder / "units.csv"
        if args.csv is None:
            start = time.perf_counter()
            rows, _ = generate(args.units)
            write_csv(path, rows)
            print(f"generated {args.units:,} units in {time.perf_counter() - start:.1f} s")
        await run_engine("sqlite", f"sqlite+aiosqlite:///{folder / 'bench.db'}", path, args.units)
        if args.postgres:
            async with scratch_database(args.postgres) as url:
                await run_engine("postgresql", url, path, args.units)


def main() -> None:
    parser = argparse.ArgumentParser(description="Unit-tree import benchmark")
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--csv", type=Path, default=None, help="an existing file (from gen_units)")
    parser.add_argument("--postgres", default=None, help="server URL; a scratch database is made")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
