"""Every row parsed and checked like a chat answer; a file with any bad row writes nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

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
    ParseResult,
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
from storage.models import Campaign, Deliverable, Unit
from storage.report_import.columns import asked_keys, columns_of, is_label_row, not_filled_in
from storage.report_import.sheet_names import sheet_aliases, sheet_deliverable
from storage.report_import.tables import (
    DELIVERABLE,
    REPORTED_ON,
    UNIT_CODE,
    RawTable,
    ReportImportError,
    RowProblem,
    cell_text,
    control_codes,
    has_control,
)
from storage.tree import is_within
from storage.unit_lookup import unit_rows_by_code

# ---------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class _Target:
    deliverable: Deliverable
    form: Form
    levels: frozenset[str]


class _Record(NamedTuple):
    """A filled-in row of a sheet: its cells by column key, raw and as text."""

    sheet: str | None
    line: int
    key: str  # the deliverable
    values: dict[str, object]
    texts: dict[str, str]


_UNIT_COLUMNS = ("id", "code", "path", "level_code", "active", "members")


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


@dataclass
class Checked:
    """A file checked against a campaign, once: the rows to write (`write_reports` writes them
    without checking again), every problem (any: nothing may be written), what was left unread
    (said to the admin), and who checked it when."""

    campaign_id: int
    now: datetime
    person_id: int | None
    lang: str
    rows: list[Planned] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def refuse(self) -> None:
        """Raise ReportImportError listing every bad row, if there is one."""
        if self.problems:
            raise ReportImportError(self.problems)


def _paper_date(value: object, text: str, today: date) -> date | None:
    """The date on the paper: a date cell, or text as a person writes it (28/9/2016)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if match := _PLAIN_DMY.match(text):
        try:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            return None
    parsed = parse_date_text(fold(text), today)
    return parsed.value if isinstance(parsed, Parsed) else None


def _parse_row(
    form: Form,
    texts: Mapping[str, str],
    unit: Any,
    *,
    today: date,
    lang: str,
    heard: dict[tuple[str, str], ParseResult],
) -> tuple[dict[str, Any], list[str]]:
    """Typed answers and the error messages of one row (`texts`: each cell as `cell_text`
    reads it), field by field as the chat asks them. `heard` keeps, for the whole file, what
    each (field, cell text) read as: a paper import repeats the same few texts (a choice, a
    date, "Đ/c Bí thư") thousands of times, and the reading is the same for each (it depends
    on the field, the text and today only)."""
    defaults = defaults_for(form, unit)
    answers: dict[str, Any] = {}
    errors: list[str] = []
    for item in form.fields:
        if not _applies(item, answers):
            continue
        text = texts.get(item.key, "")
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


async def validate_reports(
    *,
    session: AsyncSession,
    campaign_id: int,
    tables: Sequence[RawTable],
    now: datetime,
    deliverable: str | None = None,
    person_id: int | None = None,
    lang: str = "vi",
) -> Checked:
    """Every row checked (a handful of queries whatever the file size): the rows to write and
    every problem found; what was left unread (a column it does not know, another sheet, a
    pre-filled row nobody filled in) is in `notes`, not refused."""
    require_aware(now)
    checked = Checked(campaign_id, now, person_id, lang)
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(campaign_id)
    today = local_date(now, campaign.timezone)
    targets: dict[str, _Target] = {}
    for item, form, deadlines in await deliverables_of(session=session, campaign_id=campaign_id):
        targets[item.key] = _Target(item, form, frozenset(deadlines))
    known = ", ".join(targets)
    problems = checked.problems

    def problem(line: int, sheet: str | None, message_key: str, /, **params: object) -> None:
        problems.append(RowProblem(line, sheet, t(message_key, lang, **params)))

    if deliverable is not None and deliverable not in targets:
        problem(1, None, "export.import.unknown_deliverable", key=deliverable, known=known)
        return checked

    said = checked.notes
    # Sheets named after a deliverable (its template title, key or name) are read; with none,
    # the active sheet.
    aliases = sheet_aliases(campaign, [target.deliverable for target in targets.values()])
    full = {k: (v.deliverable.name_vi, v.deliverable.name_en) for k, v in targets.items()}
    named = {id(table): sheet_deliverable(table.sheet, aliases, full) for table in tables}
    chosen = [tb for tb in tables if named[id(tb)]] or [tb for tb in tables if tb.active]
    for table in tables:
        if table not in chosen and table.sheet:
            said.append(t("export.import.sheet_skipped", lang, sheet=table.sheet))
    # Parse headers; gather (table, line, deliverable key, {column key: value}).
    all_forms = [target.form for target in targets.values()]
    asked = {key: asked_keys(target.form) for key, target in targets.items()}
    records: list[_Record] = []
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
        headers = {k: cell_text(h) for k, h in zip(keys, table.header, strict=False) if k}
        for line, cells in rows:
            values = {k: v for k, v in zip(keys, cells, strict=False) if k is not None}
            texts = {k: cell_text(v) for k, v in values.items()}
            hidden = [k for k, v in values.items() if isinstance(v, str) and has_control(v)]
            if hidden:  # typed data, not layout: refused, never silently changed
                for k in hidden:
                    problem(
                        line,
                        table.sheet,
                        "export.import.control_character",
                        column=headers.get(k, k),
                        codes=control_codes(str(values[k])),
                    )
                continue
            key = texts.get(DELIVERABLE) or sheet_key
            if key is None or key not in targets:
                problem(
                    line,
                    table.sheet,
                    "export.import.unknown_deliverable",
                    key=key or "",
                    known=known,
                )
                continue
            if not_filled_in(asked[key], texts):  # a pre-filled template row
                blank_rows += 1
                continue
            records.append(_Record(table.sheet, line, key, values, texts))
    if blank_rows:
        said.append(t("export.import.rows_not_filled", lang, count=blank_rows))

    units = await unit_rows_by_code(
        session=session,
        codes=[r.texts.get(UNIT_CODE, "") for r in records],
        columns=_UNIT_COLUMNS,
        any_case=True,
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

    planned = checked.rows
    seen: dict[tuple[str, int], int] = {}
    heard: dict[str, dict[tuple[str, str], ParseResult]] = {key: {} for key in targets}
    for sheet, line, key, values, texts in records:
        target = targets[key]
        code = texts.get(UNIT_CODE, "")
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
            target.form, texts, unit, today=today, lang=lang, heard=heard[key]
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
        if texts.get(REPORTED_ON):
            reported_on = _paper_date(values.get(REPORTED_ON), texts[REPORTED_ON], today)
            if reported_on is None or reported_on > today or reported_on < campaign.start_date:
                problem(
                    line,
                    sheet,
                    "export.import.bad_reported_on",
                    value=texts[REPORTED_ON],
                    start=date_text(campaign.start_date, lang),
                    today=date_text(today, lang),
                )
                continue
        assert target.deliverable.id is not None
        planned.append(Planned(line, sheet, unit.id, target.deliverable.id, answers, reported_on))
    return checked
