"""The action programme's document number ("05-CTr/ĐU"), a form field of the built-in
templates kept in the report's answers: shown in /donvi and in the workbook's units sheet,
for the version counted as of the export's moment."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from openpyxl import load_workbook

from bot.core.unit_view import unit_view_text
from bot.export import write_xlsx
from storage.db import Database
from storage.models import CHANNEL_CLI, Unit
from storage.reports import save_report, update_report
from tests.report_fixtures import NOW, World, build_world

PROGRAM = {"action_program": True, "action_program_date": date(2016, 9, 20)}
LABEL = "Số hiệu chương trình hành động"


async def _programme(db: Database, world: World) -> int:
    async with db.write() as session:
        report = await save_report(
            session=session, unit_id=world.unit_id,
            deliverable_id=world.deliverables["chuong_trinh"],
            answers={**PROGRAM, "action_program_number": "05-CTr/ĐU"},
            person_id=world.reporter_id, channel=CHANNEL_CLI, now=NOW,
        )  # fmt: skip
        assert report.id is not None
        await update_report(
            session=session, report_id=report.id,
            answers={**PROGRAM, "action_program_number": "06-CTr/ĐU"},
            person_id=world.reporter_id, channel=CHANNEL_CLI, now=NOW + timedelta(hours=2),
        )  # fmt: skip
        return report.id


def _numbers(path: Path) -> list[object]:
    workbook = load_workbook(path)
    try:
        sheet = workbook["Đơn vị"]
        [column] = [c.column for c in sheet[2] if c.value == LABEL]
        return [sheet.cell(row, column).value for row in range(3, sheet.max_row + 1)]
    finally:
        workbook.close()


async def test_the_number_in_the_unit_view_and_the_workbook(db: Database, tmp_path: Path) -> None:
    world = await build_world(db)
    await _programme(db, world)
    async with db.read() as session:
        unit = await session.get(Unit, world.unit_id)
        assert unit is not None
        view = await unit_view_text(
            session=session, unit=unit, now=NOW + timedelta(hours=3), lang="vi"
        )
    assert f"{LABEL}: 06-CTr/ĐU" in view and "05-CTr/ĐU" not in view

    for as_of, shown in (
        (NOW + timedelta(hours=1), "05-CTr/ĐU"),
        (NOW + timedelta(hours=3), "06-CTr/ĐU"),
    ):
        out = tmp_path / f"{shown}.xlsx".replace("/", "_")
        async with db.read() as session:
            await write_xlsx(
                session=session, campaign_id=world.campaign_id, as_of=as_of, output=out
            )
        numbers = _numbers(out)
        assert numbers.count(shown) == 1  # the reporting unit's row, the version as of then
        assert [n for n in numbers if n is not None] == [shown]
