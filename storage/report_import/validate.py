"""Every row parsed and checked like a chat answer; a file with any bad row writes nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.access import scope_of
from storage.answers import fold
from storage.campaigns import deliverables_of
from storage.clock import end_of_day, local_date, require_aware
from storage.forms import (
    FieldType,
    Form,
    FormField,
    Invalid,
    ParseResult,
    answers_to_json,
    check_rules,
    defaults_for,
    error_message,
    parse_answer,
    violation_message,
)
from storage.forms.parse import Parsed
from storage.forms.parse import _parse_date as parse_date_text
from storage.i18n import t
from storage.i18n.formatting import date_text, name_in
from storage.models import CHANNEL_CLI, Campaign, Deliverable, Unit
from storage.report_import.columns import columns_of, is_label_row, not_filled_in
from storage.report_import.tables import (
    CHUNK,
    DELIVERABLE,
    REPORT,
    REPORTED_ON,
    UNIT_CODE,
    VERSION,
    RawTable,
    ReportImportError,
    RowProblem,
    cell_text,
    names_sheet,
)
from storage.report_import.write import insert_first_reports
from storage.reports import save_report
from storage.review import ReportLocked
from storage.tree import is_within
from storage.unit_lookup import units_by_code

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
    reported_on: date | None = None  # the date on the paper; None: the import day


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: list[Planned] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left unread, said to the admin

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def start_of_day(day: date, tz: str) -> datetime:
    """Midnight starting `day` in `tz` (a paper report counts from the start of its date)."""
    return end_of_day(day - timedelta(days=1), tz)


def _paper_date(value: object, today: date) -> date | None:
    """The date on the paper: a date cell, or text as a person writes it (28/9/2016)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if match := _PLAIN_DMY.match(text):
        try:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            return None
    parsed = parse_date_text(fold(text), today)
    return parsed.value if isinstance(parsed, Parsed) else None


def _parse_row(
    form: Form,
    values: Mapping[str, object],
    unit: Any,
    *,
    today: date,
    lang: str,
    heard: dict[tuple[str, str], ParseResult],
) -> tuple[dict[str, Any], list[str]]:
    """Typed answers and the error messages of one row, field by field as the chat asks them.
    `heard` keeps, for the whole file, what each (field, cell text) read as: a paper import
    repeats the same few texts (a choice, a date, "Đ/c Bí thư") thousands of times, and the
    reading is the same for each (it depends on the field, the text and today only)."""
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
        fast = _plain_value(item, text)
        if fast is not None:
            answers[item.key] = fast
            continue
        result = heard.get((item.key, text))
        if result is None:
            result = heard[(item.key, text)] = parse_answer(item, text, today=today, lang=lang)
        if isinstance(result, Invalid):
            errors.append(error_message(item, result, lang))
            answers[item.key] = None
        else:
            answers[item.key] = result.value
    return answers, errors


_PLAIN_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _plain_value(item: FormField, text: str) -> object | None:
    """The typed value of a cell that needs no reading of habits (a plain whole number within
    the field's bounds): what `parse_answer` would give, without its cost (bulk imports
    read tens of thousands of such cells). None: parse it the chat's way."""
    if item.type == FieldType.INT and text.isdigit() and text.isascii():
        value = int(text)
        if (item.min is None or value >= item.min) and (item.max is None or value <= item.max):
            return value
    return None


def _applies(item: FormField, answers: Mapping[str, Any]) -> bool:
    if item.when is None:
        return True
    answer = answers.get(item.when.field)
    expected = item.when.equals
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    return bool(answer == expected)


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
    notes: list[str] | None = None,
) -> tuple[list[Planned], list[RowProblem]]:
    """Every row checked (a handful of queries whatever the file size). Returns the rows to
    write and every problem found; what was left unread (a column it does not know, another
    sheet, a pre-filled row nobody filled in) is said in `notes`, not refused."""
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

    said = notes if notes is not None else []
    # Sheets named after a deliverable (key or name) are read; with none, the active sheet.
    named = {
        id(table): next(
            (
                key
                for key, target in targets.items()
                if names_sheet(
                    table.sheet, key, (target.deliverable.name_vi, target.deliverable.name_en)
                )
            ),
            None,
        )
        for table in tables
    }
    chosen = [tb for tb in tables if named[id(tb)]] or [tb for tb in tables if tb.active]
    for table in tables:
        if table not in chosen and table.sheet:
            said.append(t("export.import.sheet_skipped", lang, sheet=table.sheet))
    # Parse headers; gather (table, line, deliverable key, {column key: value}).
    all_forms = [target.form for target in targets.values()]
    records: list[tuple[str | None, int, str, dict[str, object]]] = []
    blank_rows = 0
    for table in chosen:
        sheet_key = named[id(table)] or deliverable
        forms = [targets[sheet_key].form] if sheet_key in targets else all_forms
        keys, unknown = columns_of(table.header, forms)
        if unknown:
            said.append(
                t(
                    "export.import.columns_ignored",
                    lang,
                    columns=", ".join(f"“{name}”" for name in unknown),
                )
            )
        if UNIT_CODE not in keys:
            problem(1, table.sheet, "export.import.no_unit_column")
        if sheet_key is None and DELIVERABLE not in keys:
            if table.sheet is not None:
                problem(
                    1, table.sheet, "export.import.unknown_sheet", sheet=table.sheet, known=known
                )
            else:
                problem(1, None, "export.import.which_deliverable", known=known)
        if UNIT_CODE not in keys or (sheet_key is None and DELIVERABLE not in keys):
            continue
        rows = list(table.rows)
        if rows and is_label_row(rows[0][1], keys, forms):
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
            if not_filled_in(targets[key].form, values):  # a pre-filled template row
                blank_rows += 1
                continue
            records.append((table.sheet, line, key, values))
    if blank_rows:
        said.append(t("export.import.rows_not_filled", lang, count=blank_rows))

    units = await units_by_code(
        session=session, codes=[cell_text(r[3].get(UNIT_CODE)) for r in records], any_case=True
    )
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
    heard: dict[str, dict[tuple[str, str], ParseResult]] = {key: {} for key in targets}
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
        if scope_path is not None and not is_within(unit.path, scope_path):
            problem(line, sheet, "export.import.out_of_scope", code=code)
            continue
        if admin_roots is not None and not any(is_within(unit.path, r) for r in admin_roots):
            problem(line, sheet, "export.import.not_yours", code=code)
            continue
        if unit.level_code not in target.levels:
            problem(
                line,
                sheet,
                "export.import.level_not_due",
                code=code,
                name=name_in(target.deliverable, lang),
            )
            continue
        first = seen.get((key, unit.id))
        if first is not None:
            problem(line, sheet, "export.import.duplicate", code=code, first=first)
            continue
        seen[(key, unit.id)] = line
        answers, errors = _parse_row(
            target.form, values, unit, today=today, lang=lang, heard=heard[key]
        )
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
        reported_on = None
        if cell_text(values.get(REPORTED_ON)):
            reported_on = _paper_date(values.get(REPORTED_ON), today)
            if reported_on is None or reported_on > today or reported_on < campaign.start_date:
                problem(
                    line,
                    sheet,
                    "export.import.bad_reported_on",
                    value=cell_text(values.get(REPORTED_ON)),
                    start=date_text(campaign.start_date, lang),
                    today=date_text(today, lang),
                )
                continue
        assert target.deliverable.id is not None
        planned.append(Planned(line, sheet, unit.id, target.deliverable.id, answers, reported_on))
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
    summary = ImportSummary()
    planned, problems = await validate_reports(
        session=session,
        campaign_id=campaign_id,
        tables=tables,
        now=now,
        deliverable=deliverable,
        person_id=person_id,
        lang=lang,
        notes=summary.notes,
    )
    if problems:
        raise ReportImportError(problems)
    forms = {
        item.id: form
        for item, form, _ in await deliverables_of(session=session, campaign_id=campaign_id)
    }
    campaign = await session.get(Campaign, campaign_id)
    timezone = campaign.timezone if campaign is not None else "Asia/Ho_Chi_Minh"
    current = await _current_answers(session, [(p.deliverable_id, p.unit_id) for p in planned])

    def note_of(row: Planned) -> dict[str, Any]:
        note: dict[str, Any] = {"line": row.line}
        if row.sheet:
            note["sheet"] = row.sheet
        if row.reported_on is not None:
            note["reported_on"] = row.reported_on.isoformat()
        return note

    def dated(day: date | None) -> datetime:
        return start_of_day(day, timezone) if day is not None else now

    first: list[Planned] = []
    later: list[Planned] = []
    for row in planned:
        stored = current.get((row.deliverable_id, row.unit_id))
        if stored is None:
            first.append(row)
        elif _same(forms[row.deliverable_id], row.answers, stored):
            summary.unchanged += 1
        else:
            later.append(row)
    # First reports set-wise; a unit that got one meanwhile becomes a new version below.
    left = await insert_first_reports(
        session=session,
        campaign_id=campaign_id,
        rows=first,
        forms=forms,
        notes=note_of,
        dated=dated,
        person_id=person_id,
        channel=channel,
        now=now,
    )
    written = {id(row) for row in left}
    summary.created += len(first) - len(left)
    summary.rows.extend(row for row in first if id(row) not in written)
    locked: list[RowProblem] = []
    for row in [*left, *later]:
        try:
            await save_report(
                session=session,
                unit_id=row.unit_id,
                deliverable_id=row.deliverable_id,
                answers=row.answers,
                person_id=person_id,
                channel=channel,
                now=now,
                action="report.import",
                note=note_of(row),
                reported_at=dated(row.reported_on) if row.reported_on else None,
                reported_on=row.reported_on,
            )
        except ReportLocked as refused:  # approved: a reviewer must reopen it first
            message = t("review.locked", lang, number=refused.report_id)
            locked.append(RowProblem(row.line, row.sheet, message))
            continue
        summary.updated += 1
        summary.rows.append(row)
    if locked:  # nothing is written (the caller rolls back), every locked row is named
        raise ReportImportError(locked)
    return summary
