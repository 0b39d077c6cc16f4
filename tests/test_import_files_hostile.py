"""Hostile files for every import (units, people): zip bombs refused before openpyxl loads them,
the visible active sheet read (never a hidden first sheet), control and format characters
removed, NUL bytes and oversized CSV fields refused with their line; and the shared pieces
(`storage.text_clean`, `storage.sheet_files`) on their own."""

from __future__ import annotations

import unicodedata
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import col

import storage.sheet_files as sheet_files
from bot.cli.people import TableFileError, read_table
from storage.db import Database
from storage.i18n import t
from storage.models import Unit
from storage.sheet_files import SheetFileError, check_xlsx, csv_records
from storage.text_clean import _CONTROL, BadText, clean
from storage.tree import SEGMENT
from storage.unit_import import parse_units_file, read_units_file
from storage.units import ensure_default_levels, import_units

HEADER = ["code", "name", "level", "parent_code", "members"]


def units_xlsx(path: Path, rows: list[list[object]], *, hidden_first: bool = False) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if hidden_first:
        sheet.title = "cu"
        sheet.append(HEADER)
        sheet.append(["OLD", "Đơn vị cũ đã xoá", "tinh", "", 1])
        sheet.sheet_state = "hidden"
        sheet = book.create_sheet("Đơn vị")
        book.active = 1
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_the_cleaner_removes_every_control_and_format_character() -> None:
    for code in range(0x110000):
        char = chr(code)
        assert bool(_CONTROL.match(char)) == (unicodedata.category(char) in {"Cc", "Cf"}), code
    assert clean("Chi\u200b bộ\u202e thôn\x07 Đông\ufeff") == "Chi bộ thôn Đông"
    assert clean("a\tb\nc") == "a b c"
    assert clean("dòng 1\r\ndòng 2\tx", multiline=True) == "dòng 1\ndòng 2\tx"
    decomposed = unicodedata.normalize("NFD", "Hòa Bình")
    assert clean(decomposed) == "Hòa Bình"
    with pytest.raises(BadText):
        clean("a\x00b")


def test_unit_names_lose_control_characters_and_a_nul_names_its_line(tmp_path: Path) -> None:
    path = units_xlsx(
        tmp_path / "u.xlsx",
        [["T1", "Đảng bộ\u200b tỉnh\u2066 Hòa Bình", "tinh", "", 10]],
    )
    rows, errors = read_units_file(path)
    assert errors == [] and rows[0].name == "Đảng bộ tỉnh Hòa Bình"
    csv = tmp_path / "u.csv"
    csv.write_bytes(
        b"code,name,level,parent_code,members\nT1,T\x01nh,tinh,,1\nT2,B\x00ad,tinh,,1\n"
    )
    rows, errors = read_units_file(csv)
    assert [(e.line, e.reason) for e in errors] == [(3, "nul_byte")]
    assert t("units.error.nul_byte")  # worded in the catalog


def test_an_oversized_csv_field_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text('code,name,level,parent_code\nT1,"' + "x" * 200_000 + ",tinh,\n")
    rows, errors = read_units_file(path)
    assert rows == [] and [(e.line, e.reason) for e in errors] == [(2, "field_too_big")]
    people = tmp_path / "p.csv"
    people.write_text('name,role,units\n"' + "y" * 200_000 + ",reporter,X1\n")
    with pytest.raises(TableFileError, match=r"Dòng 2: .*128 KB"):
        read_table(people)


def test_a_hidden_first_sheet_is_never_imported(tmp_path: Path) -> None:
    path = units_xlsx(
        tmp_path / "u.xlsx", [["T1", "Đảng bộ tỉnh", "tinh", "", 10]], hidden_first=True
    )
    rows, errors = read_units_file(path)
    assert errors == [] and [r.code for r in rows] == ["T1"]
    book = Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.append(["name", "role", "units"])
    hidden.append(["Kẻ mạo danh", "admin", "T"])
    hidden.sheet_state = "hidden"
    visible = book.create_sheet("Cán bộ")
    visible.append(["name", "role", "units"])
    visible.append(["Nguyễn Văn A", "reporter", "X1"])
    book.active = 1
    book.save(tmp_path / "p.xlsx")
    rows_p, _ = read_table(tmp_path / "p.xlsx")
    assert [r["name"] for r in rows_p] == ["Nguyễn Văn A"]


def bomb(path: Path, padding: int) -> Path:
    """A valid unit workbook whose sheet XML is padded with `padding` spaces (compresses to
    almost nothing)."""
    units_xlsx(path, [["T1", "Đảng bộ tỉnh", "tinh", "", 10]])
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = sheet.replace(
        b"<sheetData>", b"<sheetData>" + b" " * padding
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)
    return path


def test_a_zip_bomb_is_refused_before_openpyxl_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bomb(tmp_path / "bomb.xlsx", 30 * 1024 * 1024)
    assert path.stat().st_size < 100_000
    rows, errors = read_units_file(path)
    assert rows == [] and [(e.line, e.reason) for e in errors] == [(1, "xlsx_too_big")]
    with pytest.raises(TableFileError, match="quá lớn"):
        read_table(path)
    # The total size is checked too (a bomb spread over many members).
    monkeypatch.setattr(sheet_files, "MAX_UNCOMPRESSED", 1000)
    with pytest.raises(SheetFileError, match="too_big"):
        check_xlsx(units_xlsx(tmp_path / "plain.xlsx", []))


def test_csv_records_are_numbered_like_spreadsheet_rows() -> None:
    assert list(csv_records('a,b\n"x\ny",2\n3,4\n', ",")) == [
        (1, ["a", "b"]),
        (2, ["x\ny", "2"]),
        (3, ["3", "4"]),
    ]
    with pytest.raises(SheetFileError) as caught:
        list(csv_records("a\nb\nc\x00d\n", ","))
    assert (caught.value.reason, caught.value.line) == ("nul", 3)


async def test_a_tree_forty_levels_deep_imports_on_both_engines(
    db: Database, tmp_path: Path
) -> None:
    lines = ["code,name,level,parent_code,members"]
    for depth in range(40):
        parent = f"U{depth - 1}" if depth else ""
        lines.append(f"U{depth},Đơn vị cấp {depth},chi_bo,{parent},1")
    path = tmp_path / "deep.csv"
    path.write_text("\n".join(lines) + "\n")
    now = datetime(2016, 6, 1, 3, 0, tzinfo=UTC)
    async with db.write() as session:
        await ensure_default_levels(session=session)
        result = await import_units(session=session, rows=parse_units_file(path), now=now)
    assert result.created == 40
    async with db.read() as session:
        deepest = (
            await session.execute(select(col(Unit.path)).where(col(Unit.code) == "U39"))
        ).scalar_one()
    assert len(deepest) == 40 * SEGMENT


# -- paper reports (storage.report_import.read_tables) --------------------------------------


def test_report_files_hidden_sheets_nul_bombs_and_huge_fields(tmp_path: Path) -> None:
    from storage.report_import import ReportImportError, cell_text, read_tables

    book = Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "hoi_nghi_cu"
    hidden.append(["unit_code", "members"])
    hidden.append(["CS9", 99])
    hidden.sheet_state = "hidden"
    visible = book.create_sheet("hoi_nghi")
    visible.append(["unit_code", "presenter"])
    visible.append(["CS1", "Đồng chí\u200b Bí\u202e thư"])
    book.active = 1
    book.save(tmp_path / "r.xlsx")
    tables = read_tables(tmp_path / "r.xlsx")
    assert [t.sheet for t in tables] == ["hoi_nghi"]
    assert cell_text(tables[0].rows[0][1][1]) == "Đồng chí Bí thư"

    nul = tmp_path / "r.csv"
    nul.write_bytes(b"unit_code,presenter\nCS1,ok\nCS2,b\x00ad\n")
    with pytest.raises(ReportImportError) as caught:
        read_tables(nul)
    [message] = caught.value.messages()
    assert message.startswith("Dòng 3") and "NUL" in message

    huge = tmp_path / "h.csv"
    huge.write_text('unit_code,presenter\nCS1,"' + "x" * 200_000 + "\n")
    with pytest.raises(ReportImportError) as caught:
        read_tables(huge)
    assert (
        caught.value.messages()[0].startswith("Dòng 2") and "128 KB" in caught.value.messages()[0]
    )

    with pytest.raises(ReportImportError) as caught:
        read_tables(bomb(tmp_path / "bomb.xlsx", 30 * 1024 * 1024))
    assert "quá lớn" in caught.value.messages()[0]


async def test_a_control_character_in_a_report_cell_is_refused_with_its_line_and_column(
    db: Database, tmp_path: Path
) -> None:
    """A bell or an escape typed into a cell is data nobody can see: the whole file is refused,
    each such cell named by its line and its column as headed in the file; a cell's own line
    break or tab is only a space; a format character (zero-width space) is still removed."""
    from storage.models import Report, ReportVersion
    from storage.report_import import ReportImportError, import_reports, read_tables
    from tests.test_report_import import build_world

    async with db.write() as session:
        world = await build_world(session)
    header = "Mã đơn vị,session_date,duration_halfdays,attended,Báo cáo viên,essays"
    bad = tmp_path / "bao-cao.csv"
    bad.write_text(
        f"{header}\n"
        'TU,5/6/2016,2,48,"Đ/c\x07 Hùng",45\n'
        'H1,28/7/2016,2,38,"Đ/c Lan\nBí thư",36\n'
        "C11,1/8/2016,2,\x1b[2J29,,20\n",
        encoding="utf-8",
    )
    now = datetime(2016, 10, 1, 3, 0, tzinfo=UTC)

    async def run(path: Path) -> Any:
        async with db.write() as session:
            return await import_reports(
                session=session,
                campaign_id=world.campaign_id,
                tables=read_tables(path),
                now=now,
                deliverable="hoi_nghi",
                person_id=world.admin_id,
            )

    with pytest.raises(ReportImportError) as caught:
        await run(bad)
    assert caught.value.messages() == [
        "Dòng 2: ô “Báo cáo viên” có ký tự điều khiển không nhìn thấy (U+0007); "
        "xoá ký tự đó trong tệp rồi nhập lại.",
        # the 4th row as a spreadsheet shows it (H1's cell holds a line break)
        "Dòng 4: ô “attended” có ký tự điều khiển không nhìn thấy (U+001B); "
        "xoá ký tự đó trong tệp rồi nhập lại.",
    ]
    async with db.read() as session:
        assert (await session.execute(select(col(Report.id)))).first() is None  # nothing written

    good = tmp_path / "sua.csv"
    good.write_text(
        f'{header}\nTU,5/6/2016,2,48,"Đ/c\u200b Hùng",45\nH1,28/7/2016,2,38,"Đ/c Lan\nBí thư",36\n',
        encoding="utf-8",
    )
    summary = await run(good)
    assert summary.created == 2
    async with db.read() as session:
        stored = (await session.execute(select(col(ReportVersion.answers)))).scalars().all()
    assert sorted(answers["presenter"] for answers in stored) == ["Đ/c Hùng", "Đ/c Lan Bí thư"]


# -- campaign files (YAML limits) ------------------------------------------------------------

LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LAUGHS, "quá 20.000 phần tử"),
        ("name: &x [1, *x]\n", "tự tham chiếu"),
        ("a: &m {b: *m}\n", "tự tham chiếu"),
        ("x: " + "[" * 60 + "]" * 60 + "\n", "quá 40 tầng"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "quá 40 tầng"),
    ],
)
def test_hostile_yaml_is_one_clear_line(text: str, expected: str) -> None:
    from storage.campaigns import DefinitionError, parse_definition

    assert len(LAUGHS) < 500  # the whole bomb is a few hundred bytes
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text)
    messages = [p.render() for p in caught.value.problems]
    assert len(messages) == 1 and expected in messages[0], messages
