"""Paper reports entered in bulk from XLSX or CSV, with the chat's validation and history.

File convention (the template written by `write_template` follows it):

- XLSX: one sheet per deliverable, titled as the template titles it (`sheet_names`: the
  campaign's short name, else its name cut to read well in 31 characters, in either language),
  with its key (`hoi_nghi`) or its full name; the sheet "Hướng dẫn" (instructions) is skipped.
  CSV: one deliverable, named by the caller (`--deliverable KEY`) or per row in a `deliverable`
  column (also allowed in XLSX sheets).
- Row 1 is the header: `unit_code` and the form's field keys. Each header may instead be the
  field's Vietnamese (or English) label, matched without regard to accents, case or punctuation
  ("Số đảng viên dự học tập" = "so dang vien du hoc tap"); `unit_code` may be "Mã đơn vị". A
  `unit_name` / "Tên đơn vị" column is allowed and ignored. Any other header is an error.
- Row 2 may repeat the columns as labels (the template does): a row whose every filled cell is
  its column's key or label is a second header row and is skipped. Data starts below; blank rows
  are skipped. Line numbers are the sheet's row numbers (CSV: the file's lines; header = 1).

Each row goes through `storage.forms.parse_answer` (cells may be numbers, dates or text such as
"25 đồng chí"), an empty cell takes the unit's default (members) when the form has one, then
`check_rules`. The unit must exist, be active, lie in the campaign's scope (and in the importing
admin's), and its level must have the deliverable. A unit twice for one deliverable is an error.
A file with any bad row writes nothing: `ReportImportError.problems` lists every bad row. Else
every changed row becomes a report or a new version through `storage.reports.save_report`
(audited); rows equal to the unit's current report are left alone.

Modules: `tables` (the file read into tables, the row problems), `columns` (headers to field
keys), `validate` (rows checked), `write` (checked rows saved, without checking them again),
`sheet_names` (the deliverables' sheet titles), `template` (the XLSX template to fill in).
"""

from __future__ import annotations

from storage.report_import.tables import (
    CHUNK,
    DELIVERABLE,
    REPORT,
    UNIT,
    UNIT_CODE,
    UNIT_NAME,
    VERSION,
    RawTable,
    ReportImportError,
    RowProblem,
    cell_text,
    norm,
    read_tables,
)
from storage.report_import.template import write_template
from storage.report_import.validate import Checked, ImportSummary, Planned, validate_reports
from storage.report_import.write import import_reports, write_reports

__all__ = [
    "CHUNK",
    "DELIVERABLE",
    "REPORT",
    "UNIT",
    "UNIT_CODE",
    "UNIT_NAME",
    "VERSION",
    "Checked",
    "ImportSummary",
    "Planned",
    "RawTable",
    "ReportImportError",
    "RowProblem",
    "cell_text",
    "import_reports",
    "norm",
    "read_tables",
    "validate_reports",
    "write_reports",
    "write_template",
]
