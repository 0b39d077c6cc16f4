"""Columns, cell formats and the write-only sheet every part of the workbook writes through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from storage.figures import (
    UNIT,
)
from storage.i18n import t
from storage.i18n.formatting import percent_value
from storage.models import CHANNEL_TELEGRAM, CHANNEL_ZALO
from storage.sheets import text_cell

PARENT = UNIT.alias("parent_unit")

ProgressCallback = Callable[[int, int], None]

PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
INT_FORMAT = "#,##0"
CHAT_CHANNELS = (CHANNEL_TELEGRAM, CHANNEL_ZALO)

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="center")

# ---------------------------------------------------------------------------------------------
# Columns and cells


@dataclass(frozen=True)
class Column:
    title: str
    width: float = 14
    kind: str = "text"  # text | int | percent | date | datetime
    group: str = ""  # the deliverable a column belongs to (units sheet)


class ColumnMaker(Protocol):
    def __call__(
        self, key: str, kind: str = ..., width: float = ..., group: str = ...
    ) -> Column: ...


def column_maker(prefix: str, lang: str, *, kind: str = "text", width: float = 14) -> ColumnMaker:
    """`c(key, kind, width, group)`: a column titled from the catalog key `export.<prefix>.<key>`,
    with this sheet's default kind and width."""

    def make(key: str, kind: str = kind, width: float = width, group: str = "") -> Column:
        return Column(t(f"export.{prefix}.{key}", lang), width, kind, group)

    return make


def local_time(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Excel has no time zones: the campaign's local wall time, naive."""
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None)


def rate_value(numerator: int, denominator: int) -> float | None:
    """The stored percentage: rounded half up to one decimal as the bot writes it, as a
    fraction of 1 (0.948 for 94,8%); None when the denominator is 0."""
    value = percent_value(numerator, denominator)
    return None if value is None else float(value / Decimal(100))


class Sheet:
    """A write-only sheet with typed columns: widths, frozen header rows and the print setup (A4
    landscape, fit to one page wide, header rows repeated) set before any row. A list sheet
    (`numbered`) starts with an STT column numbered 1, 2, ... and gets an autofilter over its
    header and rows when `finish` is called (before the workbook is saved)."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        columns: Sequence[Column],
        *,
        group_row: bool = False,
        freeze_columns: int = 0,
        numbered: bool = False,
        lang: str = "vi",
    ) -> None:
        self.ws: WriteOnlyWorksheet = workbook.create_sheet(title)
        self.numbered = numbered
        if numbered:
            columns = [Column(t("export.stt", lang), 6, "int"), *columns]
            freeze_columns += 1
        self.columns = tuple(columns)
        self.header_rows = 2 if group_row else 1
        self.rows = 0
        for index, column in enumerate(self.columns, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = column.width
        self.ws.freeze_panes = f"{get_column_letter(freeze_columns + 1)}{self.header_rows + 1}"
        _print_setup(self.ws, self.header_rows)
        if group_row:
            groups: list[Any] = []
            previous = None
            for column in self.columns:
                groups.append(self._header(column.group) if column.group != previous else None)
                previous = column.group
            self.ws.append(groups)
        self.ws.append([self._header(column.title) for column in self.columns])

    def finish(self) -> None:
        """The autofilter of a list sheet, over its last header row and every row written."""
        if self.numbered:
            last = get_column_letter(len(self.columns))
            self.ws.auto_filter.ref = (
                f"A{self.header_rows}:{last}{self.header_rows + max(self.rows, 1)}"
            )

    def _header(self, text: str) -> WriteOnlyCell | None:
        if not text:
            return None
        cell = text_cell(self.ws, text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = _HEADER_ALIGN
        return cell

    def append(self, values: Sequence[Any], *, bold: bool = False) -> None:
        self.rows += 1
        if self.numbered:
            values = [self.rows, *values]
        row: list[Any] = []
        for column, value in zip(self.columns, values, strict=True):
            fmt = _FORMATS.get(column.kind)
            if isinstance(value, str):
                # Text from the database: always a string cell, never a live formula.
                cell = text_cell(self.ws, value)
                if bold:
                    cell.font = _HEADER_FONT
                row.append(cell)
                continue
            if value is None or (fmt is None and not bold):
                if bold and value is not None:
                    cell = WriteOnlyCell(self.ws, value=value)
                    cell.font = _HEADER_FONT
                    row.append(cell)
                else:
                    row.append(value)
                continue
            cell = WriteOnlyCell(self.ws, value=value)
            if fmt is not None:
                cell.number_format = fmt
            if bold:
                cell.font = _HEADER_FONT
            row.append(cell)
        self.ws.append(row)


def _print_setup(ws: WriteOnlyWorksheet, header_rows: int) -> None:
    """A4 landscape, every column on one page wide (as many pages tall as needed), the header
    rows printed on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"1:{header_rows}"


_FORMATS = {
    "int": INT_FORMAT,
    "percent": PERCENT_FORMAT,
    "date": DATE_FORMAT,
    "datetime": DATETIME_FORMAT,
}
