"""Opening the spreadsheets people upload (units, people, paper reports) without being hurt by
them.

- XLSX is a zip: before openpyxl reads it, the archive's directory is checked: at most
  `MAX_MEMBERS` members, at most `MAX_UNCOMPRESSED` bytes once uncompressed, no member
  compressed more than `MAX_RATIO` times (a 613 KB zip bomb expands to 1.35 GB).
- The sheet read is the one a person sees: the active sheet when it is visible, else the first
  visible one; hidden sheets are never imported (`main_sheet`, `visible_sheets`).
- CSV: a field larger than the csv module's limit (128 KB) or a NUL byte is one `SheetFileError`
  with its line, not a traceback.

`SheetFileError.reason` is one of `too_many_members`, `too_big`, `bomb`, `field_too_big`,
`nul`, `encoding`; each importer words it with its own catalog."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_MEMBERS = 10_000
MAX_UNCOMPRESSED = 512 * 1024 * 1024  # a 300,000-unit workbook is well under 200 MB
MAX_RATIO = 200  # spreadsheet XML compresses 10-30x; a bomb, thousands of times


class SheetFileError(ValueError):
    def __init__(self, reason: str, line: int = 1) -> None:
        super().__init__(f"{reason} (line {line})")
        self.reason = reason
        self.line = line


def check_xlsx(path: Path) -> None:
    """Raise SheetFileError when the archive is too large once uncompressed; zipfile errors
    (not a zip) propagate as they are."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise SheetFileError("too_many_members")
        total = 0
        for member in members:
            total += member.file_size
            if total > MAX_UNCOMPRESSED:
                raise SheetFileError("too_big")
            if member.file_size > 1024 * 1024 and member.file_size > MAX_RATIO * max(
                member.compress_size, 1
            ):
                raise SheetFileError("bomb")


def open_xlsx(path: Path) -> Any:
    """The workbook (read-only, values only) after `check_xlsx`; the caller closes it."""
    from openpyxl import load_workbook

    check_xlsx(path)
    return load_workbook(path, read_only=True, data_only=True)


def visible_sheets(workbook: Any) -> list[Any]:
    return [ws for ws in workbook.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]


def main_sheet(workbook: Any) -> Any:
    """The active sheet when visible, else the first visible sheet; None when none is."""
    visible = visible_sheets(workbook)
    try:
        active = workbook.active
    except (IndexError, AttributeError):
        active = None
    if active is not None and any(active is ws for ws in visible):
        return active
    return visible[0] if visible else None


def csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of a CSV text, records numbered from 1 (the row number a spreadsheet program
    shows). Raises SheetFileError on a NUL or an oversized field."""
    if "\x00" in text:
        raise SheetFileError("nul", text[: text.index("\x00")].count("\n") + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    while True:
        line += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SheetFileError("field_too_big", line) from exc
        yield line, cells


def csv_file_records(data: bytes, delimiters: str = ",;\t") -> Iterator[tuple[int, list[str]]]:
    """`csv_records` of an uploaded CSV file: UTF-8 (a leading BOM dropped), split on the first
    of `delimiters` its first line contains (else the first). Raises SheetFileError
    ("encoding", with the line) at once when the bytes are not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SheetFileError("encoding", data[: exc.start].count(b"\n") + 1) from exc
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in delimiters if d in first), delimiters[0])
    return csv_records(text, delimiter)
