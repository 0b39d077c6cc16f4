"""One writer for all text leaving the database in spreadsheets (XLSX and CSV).

Text from the database came from people (unit names, answers typed in chat, imported files). A
spreadsheet program runs a cell that starts with `=`, `+`, `-` or `@` (and, in CSV, one starting
with a tab or CR) as a formula: `=HYPERLINK(...)` in a unit name would be live in the official
report. Following the OWASP guidance on CSV injection:

- XLSX: every string is written as a string cell (never a formula, whatever its first
  character: openpyxl otherwise stores `=...` as a formula), and one that starts like a formula
  also gets Excel's "quote prefix" (the cell stays text when someone edits it). The text itself
  is unchanged, so it reads exactly as stored.
- CSV: a field that starts like a formula gets a leading apostrophe (`'=1+1`), which every
  spreadsheet program shows as text.
- Characters a workbook cannot hold (the C0 controls openpyxl refuses with IllegalCharacterError)
  are removed, so an export never fails because of one bad name (`storage.text_clean` keeps them
  out of the database; this is the second line).

Every XLSX and CSV writer goes through `text_cell` / `append_row` / `csv_row` / `CsvWriter`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE, without importing openpyxl for CSV writers.
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_START)


def xlsx_text(text: str) -> str:
    """`text` without the characters a workbook cannot hold."""
    return _ILLEGAL.sub("", text) if _ILLEGAL.search(text) else text


def csv_field(value: object) -> object:
    """One CSV field: strings neutralised (leading apostrophe), anything else as is."""
    if not isinstance(value, str):
        return value
    text = value.replace("\x00", "")
    return "'" + text if looks_like_formula(text) else text


def csv_row(values: Iterable[object]) -> list[object]:
    return [csv_field(v) for v in values]


class CsvWriter:
    """`csv.writer` whose every string field goes through `csv_field`."""

    def __init__(self, handle: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow(csv_row(values))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for values in rows:
            self.writerow(values)


def make_text(cell: Any, text: str) -> Any:
    """Make an openpyxl cell (normal or write-only) hold `text` as a string cell."""
    text = xlsx_text(text)
    cell.value = text
    cell.data_type = "s"  # never "f", whatever the first character
    if looks_like_formula(text):
        cell.quotePrefix = True
    return cell


def text_cell(ws: Any, text: str) -> Any:
    """A write-only cell for `ws` holding `text` as text."""
    from openpyxl.cell import WriteOnlyCell

    return make_text(WriteOnlyCell(ws), text)


def safe_value(ws: Any, value: object) -> object:
    """What to append to a write-only sheet for `value`: strings as text cells, a cell already
    built with a string value made safe, anything else unchanged."""
    if isinstance(value, str):
        unsafe = looks_like_formula(value) or _ILLEGAL.search(value)
        return text_cell(ws, value) if unsafe else value
    inner = getattr(value, "value", None)
    if isinstance(inner, str) and hasattr(value, "data_type"):
        return make_text(value, inner)
    return value


def append_row(ws: Any, values: Iterable[object]) -> None:
    """Append one row to a sheet (write-only or normal), every string written as text."""
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    row = list(values)
    if isinstance(ws, WriteOnlyWorksheet):
        ws.append([safe_value(ws, v) for v in row])
        return
    ws.append([xlsx_text(v) if isinstance(v, str) else v for v in row])
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            make_text(cell, cell.value)
