"""Time `reports import` (read, check once, write) of paper reports on SQLite and PostgreSQL.

    python -m bench.report_import [--rows 20000] [--postgres postgresql://postgres@127.0.0.1/test]

A generated tree (bench.gen_units), the built-in campaign, then one CSV of study-session reports
(one per grassroots unit and cell, each with its "Ngày báo cáo") imported as the command does:
read, checked once in a read transaction, written in the write transaction.
Goal (#13.1): at least 2,000 rows/s. The floor, measured in the same run on the same database,
is a bare multi-row INSERT of the same reports and versions (no reading, no validation, no
audit): the import's rows/s is printed against it as a ratio, never as a timed assertion. The
CPU time of this process is printed too: on a machine shared with other work the wall clock
mostly measures the wait for a core (on SQLite the database work is in this process; on
PostgreSQL the server's share is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, text

from bench.gen_units import generate, write_csv
from bench.scratch import scratch_database
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.migrate import upgrade
from storage.models import metadata
from storage.report_import import read_tables, validate_reports, write_reports
from storage.unit_import import parse_units_file
from storage.units import ensure_default_levels, import_units

NOW = datetime(2016, 10, 1, 3, 0, tzinfo=UTC)
UNIT = metadata.tables["unit"]
DELIVERABLE = metadata.tables["deliverable"]
REPORT = metadata.tables["report"]
VERSION = metadata.tables["report_version"]
AUDIT = metadata.tables["audit_log"]
HEADER = [
    "STT",
    "Mã đơn vị",
    "session_date",
    "duration_halfdays",
    "members",
    "attended",
    "presenter",
    "Báo cáo viên là",
    "essays",
    "Ngày báo cáo",
    "Ghi chú",
]


async def _setup(db: Database, units_csv: Path, rows: int, folder: Path) -> tuple[int, Path, int]:
    await upgrade(db.engine)
    async with db.write() as session:
        await ensure_default_levels(session=session)
        await import_units(session=session, rows=parse_units_file(units_csv), now=NOW)
        campaign = await load_campaign(
            session=session, definition=parse_definition(template_text()), now=NOW
        )
        assert campaign.id is not None
        found = await session.execute(
            select(UNIT.c.code, UNIT.c.members)
            .where(UNIT.c.level_code.in_(["co_so", "chi_bo"]))
            .limit(rows)
        )
        units = found.all()
        deliverable = (
            await session.execute(
                select(DELIVERABLE.c.id).where(
                    DELIVERABLE.c.campaign_id == campaign.id, DELIVERABLE.c.key == "hoi_nghi"
                )
            )
        ).scalar_one()
    path = folder / "bao-cao-giay.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n, (code, members) in enumerate(units, start=1):
            attended = max(0, members - n % 3)
            out.writerow(
                [
                    n,
                    code.lower(),
                    "20/8/2016",
                    2,
                    members,
                    attended,
                    "Đ/c Bí thư",
                    "3",
                    max(0, attended - n % 2),
                    "22/8/2016",
                    "",
                ]
            )
    return campaign.id, path, int(deliverable)


async def _import(db: Database, campaign_id: int, path: Path) -> tuple[int, float, float]:
    """What `cadrebot reports import` does: read the file, check it once in a read
    transaction, write what was checked in the write transaction."""
    start, cpu = time.perf_counter(), time.process_time()
    tables = read_tables(path)
    async with db.read() as session:
        checked = await validate_reports(
            session=session,
            campaign_id=campaign_id,
            tables=tables,
            now=NOW,
            deliverable="hoi_nghi",
        )
    async with db.write() as session:
        summary = await write_reports(session=session, checked=checked)
    return summary.created, time.perf_counter() - start, time.process_time() - cpu


async def _floor(
    db: Database, campaign_id: int, deliverable_id: int, rows: int
) -> tuple[float, float]:
    """The same reports and versions as bare multi-row INSERTs (then removed)."""
    async with db.read() as session:
        unit_ids = list(
            (
                await session.execute(
                    select(REPORT.c.unit_id).where(REPORT.c.deliverable_id == deliverable_id)
                )
            ).scalars()
        )
    async with db.write() as session:
        await session.execute(delete(REPORT).where(REPORT.c.deliverable_id == deliverable_id))
    at = datetime(2016, 8, 21, 17, tzinfo=UTC)
    start, cpu = time.perf_counter(), time.process_time()
    async with db.write() as session:
        for i in range(0, len(unit_ids), 2000):
            chunk = unit_ids[i : i + 2000]
            ids = (
                await session.execute(
                    insert(REPORT)
                    .values(
                        [
                            {
                                "campaign_id": campaign_id,
                                "deliverable_id": deliverable_id,
                                "unit_id": u,
                                "first_confirmed_at": at,
                                "current_version": 1,
                                "updated_at": at,
                            }
                            for u in chunk
                        ]
                    )
                    .returning(REPORT.c.id)
                )
            ).scalars()
            await session.execute(
                insert(VERSION).returning(VERSION.c.id),  # multi-row, as the import sends them
                [
                    {
                        "report_id": r,
                        "version": 1,
                        "is_current": True,
                        "created_at": at,
                        "channel": "cli",
                        "answers": {},
                        "members": 30,
                        "attended": 29,
                        "essays": 28,
                        "session_date": date(2016, 8, 20),
                    }
                    for r in ids
                ],
            )
    return time.perf_counter() - start, time.process_time() - cpu


async def run_engine(label: str, url: str, units_csv: Path, rows: int, folder: Path) -> None:
    db = Database.from_url(url)
    try:
        campaign_id, path, deliverable_id = await _setup(db, units_csv, rows, folder)
        created, seconds, cpu = await _import(db, campaign_id, path)
        floor, floor_cpu = await _floor(db, campaign_id, deliverable_id, created)
        async with db.read() as session:
            audits = (
                await session.execute(
                    select(text("count(*)"))
                    .select_from(AUDIT)
                    .where(AUDIT.c.action == "report.import")
                )
            ).scalar_one()
        assert audits == created, (audits, created)
        print(
            f"[{label}] reports import: {created:,} rows in {seconds:.2f} s = "
            f"{created / seconds:,.0f} rows/s; floor (bare INSERTs of the same rows) "
            f"{floor:.2f} s = {created / floor:,.0f} rows/s; ratio {seconds / floor:.1f}x; "
            f"this process's CPU time: import {cpu:.2f} s, floor {floor_cpu:.2f} s"
        )
    finally:
        await db.dispose()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        units_csv = folder / "units.csv"
        rows, _ = generate(max(args.rows * 2, 1000))
        write_csv(units_csv, rows)
        await run_engine(
            "sqlite", f"sqlite+aiosqlite:///{folder / 'bench.db'}", units_csv, args.rows, folder
        )
        if args.postgres:
            async with scratch_database(args.postgres) as url:
                await run_engine("postgresql", url, units_csv, args.rows, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description="Paper-report import benchmark")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--postgres", default=None, help="server URL; a scratch database is made")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
