"""The file read into raw tables (XLSX sheets, CSV), header normalising, and the row problems.

Files are opened through `storage.sheet_files` (zip-bomb limits before openpyxl loads a
workbook, hidden sheets never read, oversized CSV fields and NUL bytes as one line each) and
cell text goes through `storage.text_clean` (format characters such as zero-width spaces
removed). A control character in a cell that is read (a bell, an escape: pasted, never typed)
refuses the file, each such cell named by line and column (`has_control`, in `validate`)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl.utils.exceptions import InvalidFileException

from storage.answers import fold
from storage.i18n import LANGUAGES, t
from storage.models import metadata
from storage.sheet_files import (
    SheetFileError,
    csv_file_records,
    main_sheet,
    open_xlsx,
    visible_sheets,
)
from storage.text_clean import NUL, clean

UNIT = metadata.tables["unit"]
REPORT = metadata.tables["report"]
VERSION = metadata.tables["report_version"]

UNIT_CODE = "unit_code"
UNIT_NAME = "unit_name"
DELIVERABLE = "deliverable"
REPORTED_ON = "reported_on"  # the date written on the paper ("Ngày báo cáo")
IGNORED = "_ignored"  # columns kept for people, not read: STT, Ghi chú
CHUNK = 5_000
_PUNCT = re.compile(r"[^a-z0-9]+")
SPECIAL_HEADERS = {
    UNIT_CODE: ("unit_code", "ma don vi", "ma", "code", "ma dv"),
    UNIT_NAME: ("unit_name", "ten don vi", "ten", "name"),
    DELIVERABLE: ("deliverable", "noi dung", "noi dung bao cao"),
    REPORTED_ON: ("reported_on", "ngay bao cao", "ngay bc", "report date"),
    IGNORED: ("stt", "tt", "so tt", "ghi chu", "note", "notes"),
}


def norm(value: object) -> str:
    """A header as compared: no accents, lower case, punctuation and `_` as single spaces."""
    return _PUNCT.sub(" ", fold(str(value))).strip() if value is not None else ""


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class RowProblem:
    line: int
    sheet: str | None
    message: str  # already in the requested language, names the field

    def render(self, lang: str = "vi") -> str:
        if self.sheet:
            return t(
                "export.import.at_sheet_line",
                lang,
                line=self.line,
                sheet=self.sheet,
                message=self.message,
            )
        return t("export.import.at_line", lang, line=self.line, message=self.message)


class ReportImportError(Exception):
    """Nothing was written; `problems` lists every bad row, in file order."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.sheet or "", p.line))
        super().__init__(f"{len(self.problems)} problem(s)")

    def messages(self, lang: str = "vi") -> list[str]:
        return [problem.render(lang) for problem in self.problems]


# ---------------------------------------------------------------------------------------------
# Reading the file (pure)


@dataclass(frozen=True)
class RawTable:
    """One sheet (or the CSV): its title, header cells (line 1) and data rows (line, cells)."""

    sheet: str | None
    header: tuple[object, ...]
    rows: tuple[tuple[int, tuple[object, ...]], ...]
    active: bool = True  # the workbook's active sheet (a CSV's one table is)


def _blank(cells: Iterable[object]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


_UNIT_HEADERS = frozenset(norm(alias) for alias in SPECIAL_HEADERS[UNIT_CODE])


def _table(
    sheet: str | None, records: Iterable[tuple[int, Sequence[object]]], *, active: bool = True
) -> RawTable | None:
    """The header is the first row naming the unit-code column ("Mã đơn vị"): title rows above
    it ("BÁO CÁO KẾT QUẢ ...") are skipped; without such a row, the first non-blank row."""
    filled = [(line, tuple(cells)) for line, cells in records if not _blank(cells)]
    if not filled:
        return None
    at = next(
        (i for i, (_, cells) in enumerate(filled) if any(norm(c) in _UNIT_HEADERS for c in cells)),
        0,
    )
    return RawTable(sheet, filled[at][1], tuple(filled[at + 1 :]), active)


def _file_problem(exc: SheetFileError, sheet: str | None = None) -> ReportImportError:
    if exc.reason == "nul":
        message = t("units.error.nul_byte")
    elif exc.reason == "field_too_big":
        message = t("units.error.field_too_big")
    else:
        return ReportImportError([RowProblem(1, None, t("sheet.error.too_big"))])
    return ReportImportError([RowProblem(exc.line, sheet, message)])


def _refuse_nul(tables: list[RawTable]) -> list[RawTable]:
    """PostgreSQL cannot store a NUL: every row holding one is named, nothing is imported."""
    problems = [
        RowProblem(line, table.sheet, t("units.error.nul_byte"))
        for table in tables
        for line, cells in ((1, table.header), *table.rows)
        if any(isinstance(c, str) and NUL in c for c in cells)
    ]
    if problems:
        raise ReportImportError(problems)
    return tables


def read_tables(path: Path, *, instructions_sheet: str | None = None) -> list[RawTable]:
    """The file's tables. Raises ReportImportError when the file cannot be read at all."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        try:
            workbook = open_xlsx(path)
        except SheetFileError as exc:
            raise _file_problem(exc) from None
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise ReportImportError([RowProblem(1, None, t("export.import.unreadable"))]) from exc
        try:
            tables = []
            skip = {
                norm(instructions_sheet or t("export.template.instructions_sheet", lang))
                for lang in LANGUAGES
            }
            active = main_sheet(workbook)
            for ws in visible_sheets(workbook):  # a hidden sheet is never imported
                if norm(ws.title) in skip:
                    continue
                records = enumerate(ws.iter_rows(values_only=True), start=1)
                table = _table(ws.title, records, active=ws is active)
                if table is not None:
                    tables.append(table)
            return _refuse_nul(tables)
        finally:
            workbook.close()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportImportError([RowProblem(1, None, t("export.import.unreadable"))]) from exc
    try:
        lines = csv_file_records(data, delimiters=",;")
    except SheetFileError as exc:
        problem = RowProblem(exc.line, None, t("export.import.encoding"))
        raise ReportImportError([problem]) from exc
    try:
        table = _table(None, lines)
    except SheetFileError as exc:
        raise _file_problem(exc) from None
    return [table] if table is not None else []


# The C0 and C1 control characters but tab, newline and CR (a cell's own line breaks: read as
# spaces); NUL is refused with its own message when the file is read.
_HIDDEN = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    """Whether a cell's text holds a control character nobody can see or type on purpose."""
    return _HIDDEN.search(text) is not None


def control_codes(text: str) -> str:
    """The control characters of `text` as a person can look them up: "U+0007, U+001B"."""
    return ", ".join(dict.fromkeys(f"U+{ord(c):04X}" for c in _HIDDEN.findall(text)))


def cell_text(value: object) -> str:
    """A cell as the text a person would have typed: dates as 28/9/2016, whole floats without
    `.0`, booleans as có/không."""
    if value is None:
        return ""
    if type(value) is str and value.isascii() and value.isprintable():
        return value.strip()  # nothing to clean (the common case: codes, numbers, dates)
    if type(value) is int:
        return str(value)
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.day}/{value.month}/{value.year}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean(str(value).replace(NUL, "")).strip()
