"""The workbook counts evidence: each deliverable's block on the units sheet ends with "Có biên
bản (số tệp minh chứng)", the files attached to the unit's report as of the export's moment
(0 for a report without any, empty where nothing was reported). Read back from the file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.export import write_xlsx
from storage.db import Database
from storage.evidence import attach_evidence
from tests.report_fixtures import NOW, build_world
from tests.review_fixtures import evidence_by_unit, session_report

JPEG = b"\xff\xd8\xff\xe0" + b"bien ban" * 30
PDF = b"%PDF-1.4 danh sach ky ten"


async def _units_sheet(db: Database, campaign_id: int, out: Path, as_of: Any) -> dict[str, Any]:
    async with db.read() as session:
        await write_xlsx(session=session, campaign_id=campaign_id, as_of=as_of, output=out)
    return _read(out)


def _read(out: Path) -> dict[str, Any]:
    return evidence_by_unit(out.read_bytes())


async def test_the_units_sheet_counts_the_files_of_each_report(
    db: Database, tmp_path: Path
) -> None:
    world = await build_world(db)
    cs1 = await session_report(db, world)
    await session_report(db, world, unit_id=world.other_unit_id)  # CS2: reported, no files
    async with db.write() as session:
        for data in (JPEG, PDF, JPEG):  # the same photo twice counts once
            await attach_evidence(
                session=session, folder=tmp_path / "evidence", report_id=cs1, data=data,
                person_id=world.reporter_id, channel="telegram", now=NOW + timedelta(hours=1),
            )  # fmt: skip
    later = NOW + timedelta(hours=2)
    by_unit = await _units_sheet(db, world.campaign_id, tmp_path / "later.xlsx", later)
    [session_block] = [name for name in by_unit["CS1"] if by_unit["CS1"][name] == 2]
    assert len(by_unit["CS1"]) >= 2  # one evidence column per deliverable
    assert by_unit["CS2"][session_block] == 0
    assert by_unit["CS1"][next(n for n in by_unit["CS1"] if n != session_block)] is None
    assert by_unit["H"][session_block] is None  # the district reported nothing

    before = await _units_sheet(db, world.campaign_id, tmp_path / "before.xlsx", NOW)
    assert before["CS1"][session_block] == 0  # reported by then, the files came later
