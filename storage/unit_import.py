"""Reading a unit-tree file (CSV or XLSX) into rows, with every syntax problem reported by line.

Columns: `code,name,level,parent_code,members` (header required, order free, extra columns
ignored, optional `active`). Text goes through `storage.text_clean` (control and format
characters removed; a NUL refuses its line), files through `storage.sheet_files` (zip-bomb
limits, the visible active sheet, oversized CSV fields). The checks that need the database
(levels, parents, cycles) are in `storage.units.validate_units`. A row's `line` is the number
the user sees: the header is line 1, the first data row line 2 (for XLSX the sheet row number).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storage.sheet_files import SheetFileError, csv_file_records, main_sheet, open_xlsx
from storage.text_clean import NUL, clean

REQUIRED_COLUMNS = ("code", "name", "level", "parent_code")
OPTIONAL_COLUMNS = ("members", "active")
CODE_MAX = 64
NAME_MAX = 255

# Vietnamese headers a cadre may type instead of the English ones.
_ALIASES = {
    "mã": "code",
    "mã đơn vị": "code",
    "tên": "name",
    "tên đơn vị": "name",
    "cấp": "level",
    "mã cấp trên": "parent_code",
    "đơn vị cấp trên": "parent_code",
    "số đảng viên": "members",
    "đảng viên": "members",
    "hoạt động": "active",
}
_WHOLE = re.compile(r"^\d+$")
_GROUPED = re.compile(r"^\d{1,3}([. ]\d{3})+$")
_TRUE = {"1", "có", "co", "true", "yes", "x"}
_FALSE = {"0", "không", "khong", "false", "no"}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem on one line. `reason` is a catalog key suffix (`units.error.<reason>`)."""

    line: int
    reason: str
    params: dict[str, str | int] = field(default_factory=dict)


class UnitImportError(Exception):
    """The file cannot be imported; `errors` lists every bad row (nothing was written)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = sorted(errors, key=lambda e: (e.line, e.reason))


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One unit as the file states it. `members`/`active` None: not given (keep what is stored)."""

    line: int
    code: str
    name: str
    level: str
    parent_code: str | None = None
    members: int | None = None
    active: bool | None = None


def clean_text(value: object) -> str:
    """A cell as text: control and format characters removed, NFC, stripped; whole floats from
    spreadsheets lose their `.0`. A NUL is dropped here: `rows_from_records` refuses its line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean(str(value).replace(NUL, "")).strip()


def _has_nul(cells: list[object]) -> bool:
    return any(isinstance(c, str) and NUL in c for c in cells)


def parse_members(value: object) -> int | None:
    """Whole number of members: `25`, `1.234` (Vietnamese thousands). None when empty.

    Raises ValueError("negative") or ValueError("not_whole")."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("negative")
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not_whole")
        if value < 0:
            raise ValueError("negative")
        return int(value)
    text = clean_text(value)
    if not text:
        return None
    negative = text.startswith("-")
    digits = text[1:].strip() if negative else text
    if _WHOLE.match(digits) or _GROUPED.match(digits):
        if negative and int(re.sub(r"\D", "", digits)):
            raise ValueError("negative")
        return int(re.sub(r"\D", "", digits))
    raise ValueError("not_whole")


def parse_active(value: object) -> bool | None:
    text = clean_text(value).casefold()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


def _column_name(header: object) -> str:
    name = clean_text(header).lstrip("\ufeff").strip().casefold()
    name = _ALIASES.get(name, name)
    return name.replace(" ", "_")


def rows_from_records(
    records: Iterable[tuple[int, list[object]]],
) -> tuple[list[UnitRow], list[RowError]]:
    """Turn (line, cells) records, header first, into rows and the syntax errors found.

    Rows with a code are returned even when another field is bad (so that the tree checks can
    still see them); the file is importable only when the error list is empty."""
    rows: list[UnitRow] = []
    errors: list[RowError] = []
    iterator = iter(records)
    header: dict[str, int] | None = None
    for line, cells in iterator:
        if not any(clean_text(c) for c in cells):
            continue
        names = [_column_name(c) for c in cells]
        header = {}
        for index, name in enumerate(names):
            header.setdefault(name, index)
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            errors.append(RowError(line, "missing_columns", {"columns": ", ".join(missing)}))
            return rows, errors
        break
    if header is None:
        return rows, [RowError(1, "empty_file")]

    def cell(cells: list[object], column: str) -> object:
        index = header.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    for line, cells in iterator:
        if not any(clean_text(c) for c in cells):
            continue
        if _has_nul(cells):
            errors.append(RowError(line, "nul_byte"))
            continue
        code = clean_text(cell(cells, "code"))
        name = clean_text(cell(cells, "name"))
        level = clean_text(cell(cells, "level"))
        parent = clean_text(cell(cells, "parent_code")) or None
        if not code:
            errors.append(RowError(line, "missing_code"))
            continue
        if len(code) > CODE_MAX:
            errors.append(RowError(line, "code_too_long", {"code": code[:20], "max": CODE_MAX}))
            continue
        if not name:
            errors.append(RowError(line, "missing_name", {"code": code}))
        elif len(name) > NAME_MAX:
            errors.append(RowError(line, "name_too_long", {"code": code, "max": NAME_MAX}))
        if not level:
            errors.append(RowError(line, "missing_level", {"code": code}))
        members: int | None = None
        raw_members = cell(cells, "members")
        try:
            members = parse_members(raw_members)
        except ValueError as exc:
            reason = "members_negative" if str(exc) == "negative" else "members_not_whole"
            errors.append(RowError(line, reason, {"code": code, "value": clean_text(raw_members)}))
        active: bool | None = None
        try:
            active = parse_active(cell(cells, "active"))
        except ValueError:
            errors.append(
                RowError(
                    line, "bad_active", {"code": code, "value": clean_text(cell(cells, "active"))}
                )
            )
        rows.append(UnitRow(line, code, name, level, parent, members, active))
    return rows, errors


def _csv_records(data: bytes) -> tuple[Iterator[tuple[int, list[object]]] | None, RowError | None]:
    try:
        records = csv_file_records(data)
    except SheetFileError as exc:
        return None, RowError(exc.line, "wrong_encoding")
    return ((line, list(cells)) for line, cells in records), None


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[object]]]:
    workbook = open_xlsx(path)
    try:
        sheet = main_sheet(workbook)
        if sheet is None:
            return
        for line, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            yield line, list(values)
    finally:
        workbook.close()


def _file_error(exc: SheetFileError) -> RowError:
    reason = {"nul": "nul_byte", "field_too_big": "field_too_big"}.get(exc.reason, "xlsx_too_big")
    return RowError(exc.line, reason)


def read_units_file(path: Path) -> tuple[list[UnitRow], list[RowError]]:
    """Every row with a code, and every syntax error (an empty list: the file reads cleanly)."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            return rows_from_records(_xlsx_records(path))
        except SheetFileError as exc:
            return [], [_file_error(exc)]
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
            return [], [RowError(1, "unreadable_xlsx")]
    try:
        data = path.read_bytes()
    except OSError:
        return [], [RowError(1, "unreadable_file")]
    records, error = _csv_records(data)
    if error is not None or records is None:
        return [], [error or RowError(1, "unreadable_file")]
    try:
        return rows_from_records(records)
    except SheetFileError as exc:
        return [], [_file_error(exc)]


def parse_units_file(path: Path) -> list[UnitRow]:
    """The rows of a CSV/XLSX unit file; raises UnitImportError listing every syntax error."""
    rows, errors = read_units_file(path)
    if errors:
        raise UnitImportError(errors)
    return rows
