"""Reading unit files (CSV with/without BOM, XLSX), syntax errors by line, and whole-file
validation against the database (nothing written when any row is bad)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlmodel import col

from bench.gen_units import generate, write_csv
from storage.db import Database
from storage.models import Unit
from storage.unit_import import (
    UnitImportError,
    UnitRow,
    parse_members,
    parse_units_file,
    read_units_file,
)
from storage.units import ensure_default_levels, import_units, validate_units

HEADER = "code,name,level,parent_code,members\n"
GOOD = HEADER + "T1,Đảng bộ tỉnh Hòa Bình,tinh,,1.234\nH1,Huyện ủy Lạc Sơn,huyen,T1,300\n"


def _write(tmp_path: Path, content: str | bytes, name: str = "units.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _reasons(path: Path) -> list[tuple[int, str]]:
    _, errors = read_units_file(path)
    return [(e.line, e.reason) for e in errors]


def test_csv_with_and_without_bom_reads_the_same(tmp_path: Path) -> None:
    plain = parse_units_file(_write(tmp_path, GOOD, "plain.csv"))
    bom = parse_units_file(_write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode(), "bom.csv"))
    assert plain == bom
    assert plain == [
        UnitRow(2, "T1", "Đảng bộ tỉnh Hòa Bình", "tinh", None, 1234, None),
        UnitRow(3, "H1", "Huyện ủy Lạc Sơn", "huyen", "T1", 300, None),
    ]


def test_columns_in_any_order_extra_ignored_vietnamese_headers_semicolons(tmp_path: Path) -> None:
    text = (
        "Ghi chú;Số đảng viên;Mã cấp trên;Cấp;Tên;Mã;active\n"
        "x;25;T1;chi_bo;Chi bộ thôn Đông;B1;không\n"
    )
    assert parse_units_file(_write(tmp_path, text)) == [
        UnitRow(2, "B1", "Chi bộ thôn Đông", "chi_bo", "T1", 25, False)
    ]


def test_names_are_normalised_to_nfc_and_stripped(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Đảng bộ xã Quảng Điền")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    rows = parse_units_file(_write(tmp_path, HEADER + f"C1,  {decomposed} ,co_so,,5\n"))
    assert rows[0].name == "Đảng bộ xã Quảng Điền"
    assert unicodedata.is_normalized("NFC", rows[0].name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("25", 25), ("1.234", 1234), ("12.345.678", 12345678), ("", None), (" 7 ", 7), (3.0, 3)],
)
def test_members_accepts_whole_numbers_and_vietnamese_thousands(
    raw: object, expected: int | None
) -> None:
    assert parse_members(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("-3", "negative"), ("12,5", "not_whole"), ("nhiều", "not_whole"), ("1.23", "not_whole")],
)
def test_members_rejects_negative_and_non_whole(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_members(raw)


def test_every_syntax_error_is_listed_with_its_line(tmp_path: Path) -> None:
    text = (
        HEADER
        + ",Không mã,tinh,,1\n"  # 2
        + "T1,,tinh,,1\n"  # 3
        + "\n"  # 4: blank lines are skipped but still counted
        + "T2,Tỉnh,tinh,,-4\n"  # 5
        + "T3,Tỉnh,tinh,,mười\n"  # 6
        + "T4,Tỉnh,,,3\n"  # 7
        + "T5,Tỉnh,tinh,,3\n"  # 8: fine
    )
    rows, errors = read_units_file(_write(tmp_path, text))
    assert [(e.line, e.reason) for e in errors] == [
        (2, "missing_code"),
        (3, "missing_name"),
        (5, "members_negative"),
        (6, "members_not_whole"),
        (7, "missing_level"),
    ]
    assert errors[3].params == {"code": "T3", "value": "mười"}
    # Rows with a code are kept so the tree checks still see them.
    assert [r.code for r in rows] == ["T1", "T2", "T3", "T4", "T5"]
    with pytest.raises(UnitImportError) as caught:
        parse_units_file(_write(tmp_path, text))
    assert len(caught.value.errors) == 5


def test_wrong_encoding_is_one_clear_error(tmp_path: Path) -> None:
    content = (HEADER + "T1,Tỉnh Hòa Bình,tinh,,1\n").encode("utf-8")
    legacy = (HEADER + "T2,Hòa,tinh,,1\n").encode("latin-1")
    assert _reasons(_write(tmp_path, content, "ok.csv")) == []
    assert _reasons(_write(tmp_path, legacy, "legacy.csv")) == [(2, "wrong_encoding")]


def test_header_problems(tmp_path: Path) -> None:
    assert _reasons(_write(tmp_path, "code,name,members\nT1,x,1\n")) == [(1, "missing_columns")]
    assert _reasons(_write(tmp_path, "")) == [(1, "empty_file")]
    _, errors = read_units_file(_write(tmp_path, "code,name\n"))
    assert errors[0].params == {"columns": "level, parent_code"}


def test_xlsx_reads_cells_and_reports_sheet_rows(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["code", "name", "level", "parent_code", "members", "ghi chú"])
    sheet.append([101, "Đảng bộ tỉnh Bắc Ninh", "tinh", None, 45000, "x"])  # row 2
    sheet.append([None, None, None, None, None])  # row 3: empty
    sheet.append(["H1", "Huyện ủy Tiên Du", "huyen", 101, 1234.0])  # row 4
    sheet.append(["H2", "Huyện ủy Quế Võ", "huyen", 101, 12.5])  # row 5: not whole
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    rows, errors = read_units_file(path)
    assert rows[:2] == [
        UnitRow(2, "101", "Đảng bộ tỉnh Bắc Ninh", "tinh", None, 45000, None),
        UnitRow(4, "H1", "Huyện ủy Tiên Du", "huyen", "101", 1234, None),
    ]
    assert [(e.line, e.reason) for e in errors] == [(5, "members_not_whole")]


def test_a_damaged_xlsx_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, b"not a zip", "broken.xlsx")
    assert _reasons(path) == [(1, "unreadable_xlsx")]


async def test_decomposed_names_are_stored_composed(
    db: Database, now: datetime, tmp_path: Path
) -> None:
    name = unicodedata.normalize("NFD", "Chi bộ thôn Nghĩa Đức")
    rows = parse_units_file(_write(tmp_path, HEADER + f"B1,{name},chi_bo,,9\n"))
    async with db.write() as session:
        await ensure_default_levels(session=session)
        await import_units(session=session, rows=rows, now=now)
    async with db.read() as session:
        stored = (await session.execute(select(col(Unit.name)))).scalar_one()
    assert stored == "Chi bộ thôn Nghĩa Đức"
    assert unicodedata.is_normalized("NFC", stored)


async def test_ten_thousand_rows_with_three_bad_import_nothing_and_name_them(
    db: Database, now: datetime, tmp_path: Path
) -> None:
    data, bad = generate(10_000, bad_rows=3, seed=7)
    assert len(bad) == 3
    path = tmp_path / "units.csv"
    write_csv(path, data)
    rows, errors = read_units_file(path)
    async with db.write() as session:
        await ensure_default_levels(session=session)
    async with db.read() as session:
        errors += await validate_units(session=session, rows=rows)
    assert sorted({e.line for e in errors}) == sorted(bad)
    async with db.write() as session:
        with pytest.raises(UnitImportError) as caught:
            await import_units(session=session, rows=rows, now=now)
    assert {e.line for e in caught.value.errors} <= set(bad)
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Unit))).scalar_one() == 0

    # The same file without the spoiled rows goes in whole.
    good, _ = generate(10_000, seed=7)
    write_csv(path, good)
    async with db.write() as session:
        result = await import_units(session=session, rows=parse_units_file(path), now=now)
    assert result.created == 10_000


# -- property: whatever rows are spoiled, exactly those lines are named and nothing is written

_SPOILERS = {
    "missing_name": lambda r: r.replace(name=""),
    "unknown_level": lambda r: r.replace(level="khong_co"),
    "unknown_parent": lambda r: r.replace(parent="NO_SUCH_UNIT"),
    "members": lambda r: r.replace(members="-3"),
    "members_text": lambda r: r.replace(members="hai mươi"),
}


class _Row:
    def __init__(self, code: str, name: str, level: str, parent: str, members: str) -> None:
        self.code, self.name, self.level, self.parent, self.members = (
            code,
            name,
            level,
            parent,
            members,
        )

    def replace(self, **changes: str) -> _Row:
        values = dict(vars(self))
        values.update(changes)
        return _Row(**values)

    def csv(self) -> str:
        return f"{self.code},{self.name},{self.level},{self.parent},{self.members}\n"


def _tree(size: int) -> list[_Row]:
    rows = [_Row("T0", "Đảng bộ tỉnh thử", "tinh", "", "10")]
    for i in range(1, size):
        parent = f"T{(i - 1) // 3}"
        level = "huyen" if i < 4 else "chi_bo"
        rows.append(_Row(f"T{i}", f"Chi bộ số {i}", level, parent, str(i)))
    return rows


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    size=st.integers(2, 25),
    spoiled=st.dictionaries(
        st.integers(1, 24), st.sampled_from(sorted(_SPOILERS)), min_size=1, max_size=5
    ),
)
async def test_exactly_the_spoiled_lines_are_named_and_nothing_is_written(
    db: Database, now: datetime, tmp_path: Path, size: int, spoiled: dict[int, str]
) -> None:
    rows = _tree(size)
    bad = {index: kind for index, kind in spoiled.items() if index < size}
    assume(bad)
    # Codes are never spoiled, so a spoiled parent still resolves for its children: the bad
    # lines are exactly the spoiled ones.
    for index, kind in bad.items():
        rows[index] = _SPOILERS[kind](rows[index])
    path = tmp_path / f"units-{size}-{len(bad)}.csv"
    path.write_text(HEADER + "".join(row.csv() for row in rows), encoding="utf-8")
    parsed, syntax_errors = read_units_file(path)
    async with db.write() as session:
        await ensure_default_levels(session=session)
    # As `cadrebot units import` does: the file's syntax errors plus the tree checks.
    async with db.read() as session:
        errors = syntax_errors + await validate_units(session=session, rows=parsed)
    if not syntax_errors:
        with pytest.raises(UnitImportError):
            async with db.write() as session:
                await import_units(session=session, rows=parsed, now=now)
    named = {error.line for error in errors}
    assert named == {index + 2 for index in bad}  # header is line 1, rows start at line 2
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Unit))).scalar_one() == 0
