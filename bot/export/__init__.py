"""The campaign workbook (XLSX) and the per-unit CSV: what `cadrebot export` and `/xuat` send.

Sheets, in order (titles and headers from the catalog, Vietnamese by default):

1. "Tổng hợp": the official table by level (units expected / reported / %, members attending /
   members / %, essays / attending / %, units with an action program / %, heads with an action
   plan / heads / %) and the combined row "Tổng cộng" (pooled sums, the product's definitions);
2. "Đơn vị": one row per expected unit (streamed from `storage.figures.unit_rows`), with, per
   deliverable, its status (Đúng hạn / Trễ hạn / Chưa báo cáo), due date, report number, version,
   first confirmation time (campaign local time), every figure its form declares and the
   presenter's name beside their standing (read in the same streamed query);
3. "Chưa báo cáo": units that still owe something, with their level, parent and what they owe;
4. "Hạn chế": every shortcoming (storage.shortcomings) with its units;
5. "Lịch sử thay đổi": every correction (report versions after the first, field by field, old ->
   new) and every change to a unit's own data (audit log), with who, when and through which
   channel.

Percentages are stored as numbers already rounded half up to one decimal (what the bot writes),
shown with the format `0.0%`; a rate with nothing to divide by is "—". Dates use `dd/mm/yyyy`.
The workbook is written with openpyxl's write-only mode and units are streamed in batches, so a
national export (300,000 units) never holds the rows in memory.

Modules: `sheet` (columns, cells, the write-only sheet), `summary` (sheets 1 and 4), `units`
(sheets 2 and 3), `history` (sheet 5), `workbook` (the entry points `write_xlsx`, `write_csv`).
"""

from __future__ import annotations

from bot.export.history import history_columns
from bot.export.sheet import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    INT_FORMAT,
    PERCENT_FORMAT,
    Column,
    ProgressCallback,
    rate_value,
)
from bot.export.summary import shortcoming_columns, shortcoming_label, summary_columns, summary_row
from bot.export.units import missing_columns, unit_columns
from bot.export.workbook import csv_header, write_csv, write_xlsx

__all__ = [
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "INT_FORMAT",
    "PERCENT_FORMAT",
    "Column",
    "ProgressCallback",
    "csv_header",
    "history_columns",
    "missing_columns",
    "rate_value",
    "shortcoming_columns",
    "shortcoming_label",
    "summary_columns",
    "summary_row",
    "unit_columns",
    "write_csv",
    "write_xlsx",
]
