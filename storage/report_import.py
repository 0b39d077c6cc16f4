"""Paper reports entered in bulk from XLSX or CSV, with the chat's validation and history.

File convention (the template written by `write_template` follows it):

- XLSX: one sheet per deliverable, titled with the deliverable's key (`hoi_nghi`); the sheet
  "Hướng dẫn" (instructions) is skipped. CSV: one deliverable, named by the caller
  (`--deliverable KEY`) or per row in a `deliverable` column (also allowed in XLSX sheets).
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
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.access import scope_of
from storage.answers import fold
from storage.campaigns import deliverables_of
from storage.clock import local_date, require_aware
from storage.forms import (
    FieldType,
    Form,
    FormField,
    Invalid,
    answers_to_json,
    check_rules,
    defaults_for,
    error_message,
    parse_answer,
    violation_message,
)
from storage.i18n import LANGUAGES, t
from storage.models import CHANNEL_CLI, Campaign, Deliverable, Unit, metadata
from storage.reports import save_report

UNIT = metadata.tables["unit"]
REPORT = metadata.tables["report"]
VERSION = metadata.tables["report_version"]

UNIT_CODE = "unit_code"
UNIT_NAME = "unit_name"
DELIVERABLE = "deliverable"
CHUNK = 5_000
_PUNCT = re.compile(r"[^a-z0-9]+")
_SPECIAL_HEADERS = {
    UNIT_CODE: ("unit_code", "ma don vi", "ma", "code", "ma dv"),
    UNIT_NAME: ("unit_name", "ten don vi", "ten", "name"),
    DELIVERABLE: ("deliverable", "noi dung", "noi dung bao cao"),
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


def _blank(cells: Iterable[object]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _table(sheet: str | None, records: Iterable[tuple[int, Sequence[object]]]) -> RawTable | None:
    header: tuple[object, ...] | None = None
    rows: list[tuple[int, tuple[object, ...]]] = []
    for line, cells in records:
        if header is None:
            if _blank(cells):
                continue
            header = tuple(cells)
            continue
        if not _blank(cells):
            rows.append((line, tuple(cells)))
    if header is None:
        return None
    return RawTable(sheet, header, tuple(rows))


def read_tables(path: Path, *, instructions_sheet: str | None = None) -> list[RawTable]:
    """The file's tables. Raises ReportImportError when the file cannot be read at all."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise ReportImportError([RowProblem(1, None, t("export.import.unreadable"))]) from exc
        try:
            tables = []
            skip = {
                norm(instructions_sheet or t("export.template.instructions_sheet", lang))
                for lang in LANGUAGES
            }
            for ws in workbook.worksheets:
                if norm(ws.title) in skip:
                    continue
                records = enumerate(ws.iter_rows(values_only=True), start=1)
                table = _table(ws.title, records)
                if table is not None:
                    tables.append(table)
            return tables
        finally:
            workbook.close()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportImportError([RowProblem(1, None, t("export.import.unreadable"))]) from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReportImportError([RowProblem(line, None, t("export.import.encoding"))]) from exc
    first = text.split("\n", 1)[0]
    delimiter = ";" if "," not in first and ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = _table(None, ((line, cells) for line, cells in enumerate(reader, start=1)))
    return [table] if table is not None else []


def cell_text(value: object) -> str:
    """A cell as the text a person would have typed: dates as 28/9/2016, whole floats without
    `.0`, booleans as có/không."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.day}/{value.month}/{value.year}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class _Target:
    deliverable: Deliverable
    form: Form
    levels: frozenset[str]


@dataclass
class Planned:
    line: int
    sheet: str | None
    unit_id: int
    deliverable_id: int
    answers: dict[str, Any]


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: list[Planned] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _columns(header: Sequence[object], forms: Sequence[Form]) -> tuple[list[str | None], list[str]]:
    """Column index -> canonical key (None: empty header), and the headers not recognised."""
    names: dict[str, str] = {}
    for key, aliases in _SPECIAL_HEADERS.items():
        for alias in aliases:
            names[norm(alias)] = key
    for form in forms:
        for item in form.fields:
            for alias in (item.key, item.label_vi, item.label_en):
                names.setdefault(norm(alias), item.key)
    keys: list[str | None] = []
    unknown: list[str] = []
    for cell in header:
        name = norm(cell)
        if not name:
            keys.append(None)
        elif name in names:
            keys.append(names[name])
        else:
            keys.append(None)
            unknown.append(cell_text(cell))
    return keys, unknown


def _is_label_row(
    cells: Sequence[object], keys: Sequence[str | None], forms: Sequence[Form]
) -> bool:
    labels: dict[str, set[str]] = {
        k: {norm(a) for a in aliases} for k, aliases in _SPECIAL_HEADERS.items()
    }
    for form in forms:
        for item in form.fields:
            labels.setdefault(item.key, set()).update(
                {norm(item.key), norm(item.label_vi), norm(item.label_en)}
            )
    filled = False
    for cell, key in zip(cells, keys, strict=False):
        name = norm(cell)
        if not name:
            continue
        filled = True
        if key is None or name not in labels.get(key, set()):
            return False
    return filled


def _parse_row(
    form: Form,
    values: Mapping[str, object],
    unit: Any,
    *,
    today: date,
    lang: str,
) -> tuple[dict[str, Any], list[str]]:
    """Typed answers and the error messages of one row, field by field as the chat asks them."""
    defaults = defaults_for(form, unit)
    answers: dict[str, Any] = {}
    errors: list[str] = []
    for item in form.fields:
        if not _applies(item, answers):
            continue
        text = cell_text(values.get(item.key))
        if not text:
            if item.key in defaults:
                answers[item.key] = defaults[item.key]
                continue
            if item.required:
                errors.append(error_message(item, Invalid("form.error.required"), lang))
            answers[item.key] = None
            continue
        result = parse_answer(item, text, today=today, lang=lang)
        if isinstance(result, Invalid):
            errors.append(error_message(item, result, lang))
            answers[item.key] = None
        else:
            answers[item.key] = result.value
    return answers, errors


def _applies(item: FormField, answers: Mapping[str, Any]) -> bool:
    if item.when is None:
        return True
    answer = answers.get(item.when.field)
    expected = item.when.equals
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    return bool(answer == expected)


async def _units_by_code(session: AsyncSession, codes: Sequence[str]) -> dict[str, Unit]:
    found: dict[str, Unit] = {}
    unique = list(dict.fromkeys(codes))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = (await session.execute(select(Unit).where(UNIT.c.code.in_(chunk)))).scalars()
        found.update({u.code: u for u in rows})
    return found


async def _current_answers(
    session: AsyncSession, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], dict[str, Any]]:
    """(deliverable id, unit id) -> the current version's answers, for the pairs given."""
    current: dict[tuple[int, int], dict[str, Any]] = {}
    unit_ids = sorted({u for _, u in pairs})
    deliverable_ids = sorted({d for d, _ in pairs})
    for start in range(0, len(unit_ids), CHUNK):
        chunk = unit_ids[start : start + CHUNK]
        stmt = (
            select(REPORT.c.deliverable_id, REPORT.c.unit_id, VERSION.c.answers)
            .join(
                VERSION,
                and_(
                    VERSION.c.report_id == REPORT.c.id,
                    VERSION.c.version == REPORT.c.current_version,
                ),
            )
            .where(REPORT.c.unit_id.in_(chunk), REPORT.c.deliverable_id.in_(deliverable_ids))
        )
        for row in (await session.execute(stmt)).all():
            current[(row.deliverable_id, row.unit_id)] = dict(row.answers or {})
    return current


def _same(form: Form, answers: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    if stored is None:
        return False
    new = {k: v for k, v in answers_to_json(form, answers).items() if v is not None}
    old = {k: v for k, v in stored.items() if v is not None}
    return new == old


async def validate_reports(
    *,
    session: AsyncSession,
    campaign_id: int,
    tables: Sequence[RawTable],
    now: datetime,
    deliverable: str | None = None,
    person_id: int | None = None,
    lang: str = "vi",
) -> tuple[list[Planned], list[RowProblem]]:
    """Every row checked (a handful of queries whatever the file size). Returns the rows to
    write and every problem found."""
    require_aware(now)
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(campaign_id)
    today = local_date(now, campaign.timezone)
    targets: dict[str, _Target] = {}
    for item, form, deadlines in await deliverables_of(session=session, campaign_id=campaign_id):
        targets[item.key] = _Target(item, form, frozenset(deadlines))
    known = ", ".join(targets)
    problems: list[RowProblem] = []

    def problem(line: int, sheet: str | None, message_key: str, /, **params: object) -> None:
        problems.append(RowProblem(line, sheet, t(message_key, lang, **params)))

    if deliverable is not None and deliverable not in targets:
        problem(1, None, "export.import.unknown_deliverable", key=deliverable, known=known)
        return [], problems

    # Parse headers; gather (table, line, deliverable key, {column key: value}).
    all_forms = [target.form for target in targets.values()]
    records: list[tuple[str | None, int, str, dict[str, object]]] = []
    for table in tables:
        sheet_key = table.sheet if table.sheet in targets else deliverable
        forms = [targets[sheet_key].form] if sheet_key else all_forms
        keys, unknown = _columns(table.header, forms)
        for name in unknown:
            problem(1, table.sheet, "export.import.unknown_column", column=name)
        if UNIT_CODE not in keys:
            problem(1, table.sheet, "export.import.no_unit_column")
        if sheet_key is None and DELIVERABLE not in keys:
            if table.sheet is not None:
                problem(
                    1, table.sheet, "export.import.unknown_sheet", sheet=table.sheet, known=known
                )
            else:
                problem(1, None, "export.import.which_deliverable", known=known)
        if unknown or UNIT_CODE not in keys or (sheet_key is None and DELIVERABLE not in keys):
            continue
        rows = list(table.rows)
        if rows and _is_label_row(rows[0][1], keys, forms):
            rows = rows[1:]
        for line, cells in rows:
            values = {k: v for k, v in zip(keys, cells, strict=False) if k is not None}
            key = sheet_key
            if DELIVERABLE in values and cell_text(values[DELIVERABLE]):
                key = cell_text(values[DELIVERABLE])
            if key is None or key not in targets:
                problem(
                    line,
                    table.sheet,
                    "export.import.unknown_deliverable",
                    key=key or "",
                    known=known,
                )
                continue
            records.append((table.sheet, line, key, values))

    units = await _units_by_code(session, [cell_text(r[3].get(UNIT_CODE)) for r in records])
    scope_path = None
    if campaign.scope_unit_id is not None:
        scope_unit = await session.get(Unit, campaign.scope_unit_id)
        scope_path = scope_unit.path if scope_unit is not None else None
    admin_roots: tuple[str, ...] | None = None
    if person_id is not None:
        scope = await scope_of(session=session, person_id=person_id)
        if not scope.whole_tree:
            admin_roots = tuple(scope.admin_paths)

    planned: list[Planned] = []
    seen: dict[tuple[str, int], int] = {}
    for sheet, line, key, values in records:
        target = targets[key]
        code = cell_text(values.get(UNIT_CODE))
        unit = units.get(code)
        if not code:
            problem(line, sheet, "export.import.no_unit_code")
            continue
        if unit is None or unit.id is None:
            problem(line, sheet, "export.import.unknown_unit", code=code)
            continue
        if not unit.active:
            problem(line, sheet, "export.import.inactive_unit", code=code)
            continue
        if scope_path is not None and not unit.path.startswith(scope_path):
            problem(line, sheet, "export.import.out_of_scope", code=code)
            continue
        if admin_roots is not None and not any(unit.path.startswith(r) for r in admin_roots):
            problem(line, sheet, "export.import.not_yours", code=code)
            continue
        if unit.level_code not in target.levels:
            problem(
                line,
                sheet,
                "export.import.level_not_due",
                code=code,
                name=target.deliverable.name_en if lang == "en" else target.deliverable.name_vi,
            )
            continue
        first = seen.get((key, unit.id))
        if first is not None:
            problem(line, sheet, "export.import.duplicate", code=code, first=first)
            continue
        seen[(key, unit.id)] = line
        answers, errors = _parse_row(target.form, values, unit, today=today, lang=lang)
        if not errors:
            errors = [
                violation_message(target.form, v, lang)
                for v in check_rules(
                    target.form,
                    answers,
                    campaign_start=campaign.start_date,
                    campaign_end=campaign.end_date,
                    today=today,
                )
            ]
        if errors:
            problems.extend(RowProblem(line, sheet, message) for message in errors)
            continue
        assert target.deliverable.id is not None
        planned.append(Planned(line, sheet, unit.id, target.deliverable.id, answers))
    return planned, problems


async def import_reports(
    *,
    session: AsyncSession,
    campaign_id: int,
    tables: Sequence[RawTable],
    now: datetime,
    deliverable: str | None = None,
    person_id: int | None = None,
    channel: str = CHANNEL_CLI,
    lang: str = "vi",
) -> ImportSummary:
    """Validate every row, then write them all (reports, versions, audit) or nothing: raises
    ReportImportError listing every bad row. Never commits."""
    planned, problems = await validate_reports(
        session=session,
        campaign_id=campaign_id,
        tables=tables,
        now=now,
        deliverable=deliverable,
        person_id=person_id,
        lang=lang,
    )
    if problems:
        raise ReportImportError(problems)
    forms = {
        item.id: form
        for item, form, _ in await deliverables_of(session=session, campaign_id=campaign_id)
    }
    current = await _current_answers(session, [(p.deliverable_id, p.unit_id) for p in planned])
    summary = ImportSummary()
    for row in planned:
        stored = current.get((row.deliverable_id, row.unit_id))
        if _same(forms[row.deliverable_id], row.answers, stored):
            summary.unchanged += 1
            continue
        await save_report(
            session=session,
            unit_id=row.unit_id,
            deliverable_id=row.deliverable_id,
            answers=row.answers,
            person_id=person_id,
            channel=channel,
            now=now,
            action="report.import",
            note={"line": row.line, "sheet": row.sheet} if row.sheet else {"line": row.line},
        )
        if stored is None:
            summary.created += 1
        else:
            summary.updated += 1
        summary.rows.append(row)
    return summary


# ---------------------------------------------------------------------------------------------
# The template


_BOLD = Font(bold=True)
_KEY_FILL = PatternFill("solid", fgColor="EDEDED")
_LABEL_FILL = PatternFill("solid", fgColor="DDEBF7")


def _format_hint(item: FormField, lang: str) -> str:
    if item.type == FieldType.CHOICE:
        options = "; ".join(c.label(lang) for c in item.choices)
        return t("export.template.hint.choice", lang, options=options)
    return t(f"export.template.hint.{item.type.value}", lang)


async def write_template(
    *, session: AsyncSession, campaign_id: int, output: Path, lang: str = "vi"
) -> list[str]:
    """The empty workbook to fill in by hand: instructions, then one sheet per deliverable
    (row 1 the keys, row 2 the labels). Returns the sheet titles of the deliverables."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(campaign_id)
    items = await deliverables_of(session=session, campaign_id=campaign_id)
    workbook = Workbook()
    guide = workbook.active
    assert guide is not None
    guide.title = t("export.template.instructions_sheet", lang)
    guide.column_dimensions["A"].width = 30
    guide.column_dimensions["B"].width = 90
    lines: list[tuple[str, str]] = [
        (t("export.template.title", lang, reference=campaign.reference), campaign.name),
        ("", ""),
        *[(str(n), t(f"export.template.rule{n}", lang)) for n in range(1, 8)],
        ("", ""),
    ]
    for item, form, deadlines in items:
        due = ", ".join(f"{level}: {d.day}/{d.month}/{d.year}" for level, d in deadlines.items())
        lines.append(
            (
                item.key,
                t(
                    "export.template.sheet_line",
                    lang,
                    name=item.name_en if lang == "en" else item.name_vi,
                    due=due,
                ),
            )
        )
        for f in form.fields:
            need = t("export.template.required" if f.required else "export.template.optional", lang)
            extra = ""
            if f.default_from:
                extra = " " + t("export.template.default_members", lang)
            if f.when is not None:
                extra += " " + t("export.template.when", lang, field=f.when.field)
            lines.append(
                (f"  {f.key}", f"{f.label(lang)} — {need}; {_format_hint(f, lang)}{extra}")
            )
        lines.append(("", ""))
    for left, right in lines:
        guide.append([left, right])
    guide["A1"].font = _BOLD
    for cell in guide["B"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")

    titles = []
    for item, form, _ in items:
        ws = workbook.create_sheet(item.key)
        titles.append(item.key)
        keys = [UNIT_CODE, UNIT_NAME, *form.keys()]
        labels = [
            t("export.template.unit_code", lang),
            t("export.template.unit_name", lang),
            *(f.label(lang) for f in form.fields),
        ]
        ws.append(keys)
        ws.append(labels)
        for index in range(1, len(keys) + 1):
            ws.cell(1, index).fill = _KEY_FILL
            ws.cell(2, index).font = _BOLD
            ws.cell(2, index).fill = _LABEL_FILL
            ws.cell(2, index).alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[get_column_letter(index)].width = 12 if index == 1 else 22
        ws.freeze_panes = "B3"
    workbook.save(output)
    return titles
