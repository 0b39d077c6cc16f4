"""The campaign workbook (XLSX) and the per-unit CSV: what `cadrebot export` and `/xuat` send.

Sheets, in order (titles and headers from the catalog, Vietnamese by default):

1. "Tổng hợp": the official table by level (units expected / reported / %, members attending /
   members / %, essays / attending / %, units with an action program / %, heads with an action
   plan / heads / %) and the combined row "Tổng cộng" (pooled sums, PRODUCT.md definitions);
2. "Đơn vị": one row per expected unit (streamed from `storage.figures.unit_rows`), with, per
   deliverable, its status (Đúng hạn / Trễ hạn / Chưa báo cáo), due date, report number, version,
   first confirmation time (campaign local time) and every figure its form declares;
3. "Chưa báo cáo": units that still owe something, with their level, parent and what they owe;
4. "Hạn chế": every shortcoming (storage.shortcomings) with its units;
5. "Lịch sử thay đổi": every correction (report versions after the first, field by field, old ->
   new) and every change to a unit's own data (audit log), with who, when and through which
   channel.

Percentages are stored as numbers already rounded half up to one decimal (what the bot writes),
shown with the format `0.0%`; a rate with nothing to divide by is "—". Dates use `dd/mm/yyyy`.
The workbook is written with openpyxl's write-only mode and units are streamed in batches, so a
national export (300,000 units) never holds the rows in memory.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.figures import (
    CAMPAIGN,
    DEADLINE,
    DELIVERABLE,
    LEVEL,
    REPORT,
    STATUS_LATE,
    STATUS_ON_TIME,
    UNIT,
    VERSION,
    CampaignContext,
    Figures,
    GroupFigures,
    compute_figures,
    expected_rows,
    load_campaign,
    scope_condition,
    unit_rows,
)
from storage.forms import FieldType, Form, FormField, answers_from_json, format_answer
from storage.i18n import t
from storage.i18n.formatting import percent_value
from storage.models import CHANNEL_TELEGRAM, CHANNEL_ZALO, MEASURES, metadata
from storage.shortcomings import (
    ACTION_PLANS_INCOMPLETE,
    LOW_ESSAY_RATE,
    MISSING_REPORT,
    NO_ACTION_PROGRAM,
    SHORT_SESSION,
    Shortcoming,
    find_shortcomings,
)

PERSON = metadata.tables["person"]
AUDIT = metadata.tables["audit_log"]
PARENT = UNIT.alias("parent_unit")

ProgressCallback = Callable[[int, int], None]

PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
INT_FORMAT = "#,##0"
UNIT_AUDIT_ACTIONS = ("unit.update", "unit.move")
UNIT_FIELDS = ("name", "level", "parent_code", "members", "active")
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


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Excel has no time zones: the campaign's local wall time, naive."""
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None)


def rate_value(numerator: int, denominator: int) -> float | None:
    """The stored percentage: rounded half up to one decimal as the bot writes it, as a
    fraction of 1 (0.948 for 94,8%); None when the denominator is 0."""
    value = percent_value(numerator, denominator)
    return None if value is None else float(value / Decimal(100))


class _Sheet:
    """A write-only sheet with typed columns: widths and frozen header set before any row."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        columns: Sequence[Column],
        *,
        group_row: bool = False,
        freeze_columns: int = 0,
    ) -> None:
        self.ws: WriteOnlyWorksheet = workbook.create_sheet(title)
        self.columns = tuple(columns)
        header_rows = 2 if group_row else 1
        for index, column in enumerate(self.columns, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = column.width
        self.ws.freeze_panes = f"{get_column_letter(freeze_columns + 1)}{header_rows + 1}"
        if group_row:
            groups: list[Any] = []
            previous = None
            for column in self.columns:
                groups.append(self._header(column.group) if column.group != previous else None)
                previous = column.group
            self.ws.append(groups)
        self.ws.append([self._header(column.title) for column in self.columns])

    def _header(self, text: str) -> WriteOnlyCell | None:
        if not text:
            return None
        cell = WriteOnlyCell(self.ws, value=text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = _HEADER_ALIGN
        return cell

    def append(self, values: Sequence[Any], *, bold: bool = False) -> None:
        row: list[Any] = []
        for column, value in zip(self.columns, values, strict=True):
            fmt = _FORMATS.get(column.kind)
            if value is None or isinstance(value, str) or (fmt is None and not bold):
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


_FORMATS = {
    "int": INT_FORMAT,
    "percent": PERCENT_FORMAT,
    "date": DATE_FORMAT,
    "datetime": DATETIME_FORMAT,
}


# ---------------------------------------------------------------------------------------------
# Sheet 1: summary by level


def summary_columns(lang: str) -> list[Column]:
    def c(key: str, kind: str = "int", width: float = 13) -> Column:
        return Column(t(f"export.summary.{key}", lang), width, kind)

    return [
        c("level", "text", 26),
        c("expected", width=15),
        c("reported"),
        c("percent", "percent", 9),
        c("attended"),
        c("members"),
        c("percent", "percent", 9),
        c("essays"),
        c("essay_base"),
        c("percent", "percent", 9),
        c("programs", width=16),
        c("percent", "percent", 9),
        c("heads_with_plan", width=18),
        c("heads"),
        c("percent", "percent", 9),
    ]


def summary_row(label: str, group: GroupFigures) -> list[Any]:
    """One line of the official table; rates pooled over the group's units."""
    s = group.session

    def pct(rate: Any) -> float | str:
        value = rate_value(rate.numerator, rate.denominator)
        return t("common.dash") if value is None else value

    return [
        label,
        s.expected,
        s.reported,
        pct(s.reported_rate),
        group.attended,
        group.members,
        pct(group.attendance),
        group.essays,
        group.attended,
        pct(group.essay),
        group.units_with_program,
        pct(group.action_program),
        group.heads_with_plan,
        group.heads,
        pct(group.action_plan),
    ]


def _write_summary(workbook: Workbook, figures: Figures, lang: str) -> None:
    sheet = _Sheet(workbook, t("export.sheet.summary", lang), summary_columns(lang))
    for level, group in zip(figures.levels, figures.per_level, strict=True):
        sheet.append(summary_row(level.label_en if lang == "en" else level.label_vi, group))
    sheet.append(summary_row(t("export.summary.total", lang), figures.total), bold=True)
    sheet.ws.append([])
    sheet.ws.append(
        [
            t(
                "export.summary.note",
                lang,
                reference=figures.reference,
                name=figures.campaign_name,
                as_of=figures.as_of.astimezone(ZoneInfo(figures.timezone)).strftime(
                    "%d/%m/%Y %H:%M"
                ),
            )
        ]
    )


# ---------------------------------------------------------------------------------------------
# Sheet 2: one row per unit


@dataclass(frozen=True)
class _Measure:
    measure: str
    label: str
    kind: str


@dataclass(frozen=True)
class _Block:
    """The columns of one deliverable on the units sheet."""

    key: str
    name: str
    measures: tuple[_Measure, ...]  # the figures it carries, in form order


_FIELD_KIND = {FieldType.INT: "int", FieldType.DATE: "date"}


def _blocks(ctx: CampaignContext, carriers: Mapping[str, str], lang: str) -> list[_Block]:
    """Each deliverable's measure columns: the form's fields that feed a measure; for a
    deliverable without a declared form, the measures the figures read from it."""
    blocks = []
    for d in ctx.deliverables:
        form = Form.model_validate(ctx.forms[d.id]) if ctx.forms.get(d.id) else None
        if form is not None:
            measures = tuple(
                _Measure(f.measure, f.label(lang), _FIELD_KIND.get(f.type, "text"))
                for f in form.fields
                if f.measure
            )
        else:
            measures = tuple(
                _Measure(m, t(f"export.measure.{m}", lang), _MEASURE_KIND.get(m, "int"))
                for m in MEASURES
                if carriers.get(m) == d.key
            )
        blocks.append(_Block(d.key, d.name_en if lang == "en" else d.name_vi, measures))
    return blocks


_MEASURE_KIND = {
    "session_date": "date",
    "action_program_date": "date",
    "action_program": "text",
}


def unit_columns(blocks: Sequence[_Block], lang: str) -> list[Column]:
    def c(key: str, kind: str = "text", width: float = 13, group: str = "") -> Column:
        return Column(t(f"export.units.{key}", lang), width, kind, group)

    columns = [
        c("code", width=12),
        c("name", width=34),
        c("level", width=16),
        c("parent", width=12),
        c("unit_members", "int", 11),
    ]
    for block in blocks:
        columns += [
            c("status", width=14, group=block.name),
            c("due", "date", 11, block.name),
            c("report", "int", 10, block.name),
            c("version", "int", 9, block.name),
            c("confirmed", "datetime", 16, block.name),
        ]
        columns += [Column(m.label, 14, m.kind, block.name) for m in block.measures]
    return columns


class _Parents:
    """Parent codes from the tree order itself: a stack of ancestors (O(depth) memory)."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []  # (path, code)

    def parent_of(self, path: str, code: str) -> str | None:
        while self.stack and not path.startswith(self.stack[-1][0]):
            self.stack.pop()
        parent = self.stack[-1][1] if self.stack and self.stack[-1][0] == path[:-8] else None
        self.stack.append((path, code))
        return parent


async def _level_labels(session: AsyncSession, lang: str) -> dict[str, str]:
    rows = (await session.execute(select(LEVEL.c.code, LEVEL.c.label_vi, LEVEL.c.label_en))).all()
    return {r.code: r.label_en if lang == "en" else r.label_vi for r in rows}


async def _unit_values(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
    blocks: Sequence[_Block],
    levels: Mapping[str, str],
    batch_size: int,
) -> AsyncIterator[list[Any]]:
    """The units sheet's rows as typed values (naive local datetimes, dates, ints, text)."""
    zone = ZoneInfo(ctx.timezone)
    status_text = {
        STATUS_ON_TIME: t("export.status.on_time", lang),
        STATUS_LATE: t("export.status.late", lang),
    }
    missing_text = t("export.status.missing", lang)
    yes, no = t("common.yes", lang), t("common.no", lang)
    parents = _Parents()
    async for unit in unit_rows(
        session=session,
        campaign_id=ctx.id,
        as_of=as_of,
        root_path=root_path,
        batch_size=batch_size,
    ):
        values: list[Any] = [
            unit.code,
            unit.name,
            levels.get(unit.level_code, unit.level_code),
            parents.parent_of(unit.path, unit.code),
            unit.members,
        ]
        by_key = {d.key: d for d in unit.deliverables}
        for block in blocks:
            part = by_key.get(block.key)
            if part is None:  # the deliverable does not apply to this unit's level
                values += [None] * (5 + len(block.measures))
                continue
            values += [
                status_text.get(part.status, missing_text),
                part.due_date,
                part.report_id,
                part.version,
                _local(part.first_confirmed_at, zone),
            ]
            for m in block.measures:
                value = part.measures.get(m.measure)
                if isinstance(value, bool):
                    value = yes if value else no
                values.append(value)
        yield values


# ---------------------------------------------------------------------------------------------
# Sheet 3: missing units


def missing_columns(lang: str) -> list[Column]:
    def c(key: str, kind: str = "text", width: float = 14) -> Column:
        return Column(t(f"export.missing.{key}", lang), width, kind)

    return [
        c("code", width=12),
        c("name", width=34),
        c("level", width=16),
        c("parent_code", width=12),
        c("parent_name", width=30),
        c("owed", width=50),
        c("due", "date", 12),
    ]


async def _missing_values(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
    levels: Mapping[str, str],
    batch_size: int,
) -> AsyncIterator[list[Any]]:
    """One row per unit that has not reported at least one deliverable (as of `as_of`)."""
    names = {d.id: d.name_en if lang == "en" else d.name_vi for d in ctx.deliverables}
    stmt = (
        expected_rows(
            ctx,
            [
                UNIT.c.code,
                UNIT.c.name,
                UNIT.c.level_code,
                UNIT.c.path,
                PARENT.c.code.label("parent_code"),
                PARENT.c.name.label("parent_name"),
                DEADLINE.c.deliverable_id,
                DEADLINE.c.due_date,
            ],
            as_of=as_of,
            root_path=root_path,
            unit_filter=None,
        )
        .outerjoin(PARENT, PARENT.c.id == UNIT.c.parent_id)
        .where(REPORT.c.id.is_(None))
        .order_by(UNIT.c.path, DELIVERABLE.c.position, DELIVERABLE.c.id)
    )
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    current: Any = None
    owed: list[str] = []
    due: date | None = None
    async for row in result:
        if current is not None and row.path != current.path:
            yield _missing_row(current, owed, due, levels)
            owed, due = [], None
        current = row
        owed.append(names[row.deliverable_id])
        due = row.due_date if due is None else min(due, row.due_date)
    if current is not None:
        yield _missing_row(current, owed, due, levels)


def _missing_row(
    row: Any, owed: list[str], due: date | None, levels: Mapping[str, str]
) -> list[Any]:
    return [
        row.code,
        row.name,
        levels.get(row.level_code, row.level_code),
        row.parent_code,
        row.parent_name,
        "; ".join(owed),
        due,
    ]


# ---------------------------------------------------------------------------------------------
# Sheet 4: shortcomings


def shortcoming_label(item: Shortcoming, lang: str) -> str:
    """A short Vietnamese title for a shortcoming kind, with its parameters."""
    if item.kind == SHORT_SESSION:
        return t("export.shortcoming.short_session", lang, min=item.params["min_session_halfdays"])
    if item.kind == LOW_ESSAY_RATE:
        threshold = item.params["threshold"]
        value = percent_value(threshold.numerator * 1, threshold.denominator) or Decimal(0)
        text = f"{value.normalize():f}".replace(".", "," if lang != "en" else ".")
        return t("export.shortcoming.low_essay_rate", lang, threshold=f"{text}%")
    if item.kind == ACTION_PLANS_INCOMPLETE:
        return t("export.shortcoming.action_plans_incomplete", lang)
    if item.kind == NO_ACTION_PROGRAM:
        return t("export.shortcoming.no_action_program", lang)
    if item.kind == MISSING_REPORT:
        name = item.params["name_en"] if lang == "en" else item.params["name_vi"]
        return t("export.shortcoming.missing_report", lang, name=name)
    return item.kind


def shortcoming_columns(lang: str) -> list[Column]:
    def c(key: str, width: float) -> Column:
        return Column(t(f"export.shortcomings.{key}", lang), width)

    return [c("kind", 50), c("code", 12), c("name", 34), c("level", 16)]


# ---------------------------------------------------------------------------------------------
# Sheet 5: change history


def history_columns(lang: str) -> list[Column]:
    def c(key: str, kind: str = "text", width: float = 14) -> Column:
        return Column(t(f"export.history.{key}", lang), width, kind)

    return [
        c("when", "datetime", 16),
        c("code", width=12),
        c("name", width=30),
        c("subject", width=30),
        c("field", width=28),
        c("old", width=16),
        c("new", width=16),
        c("who", width=22),
        c("channel", width=10),
        c("version", "int", 9),
    ]


def _who(
    name: str | None, forgotten: datetime | None, person_id: int | None, channel: str, lang: str
) -> str:
    """The person's name; "đã xóa" when they were forgotten or deleted (chat changes always
    had a person); "—" for changes no person made (command line without --as, system)."""
    if person_id is not None and name is not None and forgotten is None:
        return name
    if person_id is not None or channel in CHAT_CHANNELS:
        return t("export.history.deleted", lang)
    return t("common.dash", lang)


def _plain(value: Any, lang: str) -> Any:
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no", lang)
    if value is None:
        return t("common.dash", lang)
    return value


async def _version_history(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
    batch_size: int,
) -> AsyncIterator[tuple[datetime, list[Any]]]:
    """Corrections: each version after the first, compared field by field with the one
    before it, in time order."""
    new = VERSION.alias("new_version")
    old = VERSION.alias("old_version")
    zone = ZoneInfo(ctx.timezone)
    forms = {
        d.id: Form.model_validate(ctx.forms[d.id]) for d in ctx.deliverables if ctx.forms.get(d.id)
    }
    names = {d.id: d.name_en if lang == "en" else d.name_vi for d in ctx.deliverables}
    stmt = (
        select(
            UNIT.c.code,
            UNIT.c.name,
            REPORT.c.deliverable_id,
            new.c.version,
            new.c.created_at,
            new.c.channel,
            new.c.created_by_person_id,
            new.c.answers.label("new_answers"),
            old.c.answers.label("old_answers"),
            PERSON.c.full_name,
            PERSON.c.forgotten_at,
        )
        .select_from(new)
        .join(REPORT, REPORT.c.id == new.c.report_id)
        .join(old, and_(old.c.report_id == new.c.report_id, old.c.version == new.c.version - 1))
        .join(UNIT, UNIT.c.id == REPORT.c.unit_id)
        .outerjoin(PERSON, PERSON.c.id == new.c.created_by_person_id)
        .where(
            REPORT.c.campaign_id == ctx.id,
            new.c.version > 1,
            new.c.created_at <= as_of,
            scope_condition(ctx, as_of=as_of, root_path=root_path, unit_filter=None),
        )
        .order_by(new.c.created_at, UNIT.c.path, new.c.version)
    )
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    async for row in result:
        form = forms.get(row.deliverable_id)
        before = dict(row.old_answers or {})
        after = dict(row.new_answers or {})
        if form is not None:
            before, after = answers_from_json(form, before), answers_from_json(form, after)
        keys = list(dict.fromkeys([*(form.keys() if form else []), *before, *after]))
        who = _who(row.full_name, row.forgotten_at, row.created_by_person_id, row.channel, lang)
        for key in keys:
            if before.get(key) == after.get(key):
                continue
            field = _field(form, key)
            yield (
                row.created_at,
                [
                    _local(row.created_at, zone),
                    row.code,
                    row.name,
                    names.get(row.deliverable_id, ""),
                    field.label(lang) if field else key,
                    format_answer(field, before.get(key), lang)
                    if field
                    else _plain(before.get(key), lang),
                    format_answer(field, after.get(key), lang)
                    if field
                    else _plain(after.get(key), lang),
                    who,
                    row.channel,
                    row.version,
                ],
            )


def _field(form: Form | None, key: str) -> FormField | None:
    if form is None:
        return None
    try:
        return form.field(key)
    except KeyError:
        return None


async def _unit_history(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
    since: datetime,
) -> list[tuple[datetime, list[Any]]]:
    """Changes to the units' own data (name, level, parent, members...) during the campaign."""
    zone = ZoneInfo(ctx.timezone)
    stmt = (
        select(
            AUDIT.c.at,
            AUDIT.c.channel,
            AUDIT.c.actor_person_id,
            AUDIT.c.old,
            AUDIT.c.new,
            UNIT.c.code,
            UNIT.c.name,
            PERSON.c.full_name,
            PERSON.c.forgotten_at,
        )
        .select_from(AUDIT)
        .join(UNIT, cast(UNIT.c.id, String) == AUDIT.c.entity_id)
        .outerjoin(PERSON, PERSON.c.id == AUDIT.c.actor_person_id)
        .where(
            AUDIT.c.entity == "unit",
            AUDIT.c.action.in_(UNIT_AUDIT_ACTIONS),
            AUDIT.c.at >= since,
            AUDIT.c.at <= as_of,
            scope_condition(ctx, as_of=as_of, root_path=root_path, unit_filter=None),
        )
        .order_by(AUDIT.c.at, AUDIT.c.id)
    )
    subject = t("export.history.unit_data", lang)
    rows: list[tuple[datetime, list[Any]]] = []
    for row in (await session.execute(stmt)).all():
        before, after = dict(row.old or {}), dict(row.new or {})
        who = _who(row.full_name, row.forgotten_at, row.actor_person_id, row.channel, lang)
        for key in UNIT_FIELDS:
            if key not in after or before.get(key) == after.get(key):
                continue
            rows.append(
                (
                    row.at,
                    [
                        _local(row.at, zone),
                        row.code,
                        row.name,
                        subject,
                        t(f"export.unit_field.{key}", lang),
                        _plain(before.get(key), lang),
                        _plain(after.get(key), lang),
                        who,
                        row.channel,
                        None,
                    ],
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------
# Entry points


async def _expected_units(
    session: AsyncSession, ctx: CampaignContext, as_of: datetime, root_path: str | None
) -> int:
    inner = expected_rows(
        ctx, [UNIT.c.id], as_of=as_of, root_path=root_path, unit_filter=None
    ).distinct()
    return int(
        (await session.execute(select(func.count()).select_from(inner.subquery()))).scalar_one()
    )


async def _campaign_start(session: AsyncSession, campaign_id: int, tz: str) -> datetime:
    start = (
        await session.execute(select(CAMPAIGN.c.start_date).where(CAMPAIGN.c.id == campaign_id))
    ).scalar_one()
    return datetime(start.year, start.month, start.day, tzinfo=ZoneInfo(tz))


async def write_xlsx(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    output: Path,
    root_path: str | None = None,
    lang: str = "vi",
    progress_cb: ProgressCallback | None = None,
    batch_size: int = 2000,
) -> int:
    """Write the campaign workbook for the subtree `root_path` (None: the campaign's whole scope)
    as of `as_of` to `output`. Returns the number of unit rows. `progress_cb(done, total)` is
    called as unit rows are written. Reads only; the caller owns the session."""
    ctx = await load_campaign(session=session, campaign_id=campaign_id)
    figures = await compute_figures(
        session=session, campaign_id=campaign_id, as_of=as_of, root_path=root_path
    )
    total = await _expected_units(session, ctx, as_of, root_path)
    levels = await _level_labels(session, lang)
    blocks = _blocks(ctx, figures.carriers, lang)

    workbook = Workbook(write_only=True)
    _write_summary(workbook, figures, lang)

    units = _Sheet(
        workbook,
        t("export.sheet.units", lang),
        unit_columns(blocks, lang),
        group_row=True,
        freeze_columns=2,
    )
    done = 0
    if progress_cb is not None:
        progress_cb(0, total)
    async for values in _unit_values(
        session=session,
        ctx=ctx,
        as_of=as_of,
        root_path=root_path,
        lang=lang,
        blocks=blocks,
        levels=levels,
        batch_size=batch_size,
    ):
        units.append(values)
        done += 1
        if progress_cb is not None and done % 500 == 0:
            progress_cb(done, total)
    if progress_cb is not None:
        progress_cb(done, total)

    missing = _Sheet(
        workbook, t("export.sheet.missing", lang), missing_columns(lang), freeze_columns=2
    )
    async for values in _missing_values(
        session=session,
        ctx=ctx,
        as_of=as_of,
        root_path=root_path,
        lang=lang,
        levels=levels,
        batch_size=batch_size,
    ):
        missing.append(values)

    shortcomings = _Sheet(workbook, t("export.sheet.shortcomings", lang), shortcoming_columns(lang))
    for item in await find_shortcomings(
        session=session, campaign_id=campaign_id, as_of=as_of, root_path=root_path
    ):
        label = shortcoming_label(item, lang)
        for unit in item.units:
            shortcomings.append(
                [label, unit.code, unit.name, levels.get(unit.level_code, unit.level_code)]
            )

    history = _Sheet(workbook, t("export.sheet.history", lang), history_columns(lang))
    since = await _campaign_start(session, campaign_id, ctx.timezone)
    unit_changes = await _unit_history(
        session=session, ctx=ctx, as_of=as_of, root_path=root_path, lang=lang, since=since
    )
    versions = [
        item
        async for item in _version_history(
            session=session,
            ctx=ctx,
            as_of=as_of,
            root_path=root_path,
            lang=lang,
            batch_size=batch_size,
        )
    ]
    for _, values in heapq.merge(unit_changes, versions, key=lambda item: item[0]):
        history.append(values)

    workbook.save(output)
    return done


def _csv_value(value: Any, kind: str) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else value


def csv_header(columns: Sequence[Column]) -> list[str]:
    """One header row: a deliverable's columns are prefixed with its name."""
    return [f"{c.group}: {c.title}" if c.group else c.title for c in columns]


async def write_csv(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    output: Path,
    root_path: str | None = None,
    lang: str = "vi",
    progress_cb: ProgressCallback | None = None,
    batch_size: int = 2000,
) -> int:
    """The units sheet as one CSV file (UTF-8 with BOM, so Excel reads Vietnamese). Returns the
    number of unit rows."""
    ctx = await load_campaign(session=session, campaign_id=campaign_id)
    total = await _expected_units(session, ctx, as_of, root_path)
    levels = await _level_labels(session, lang)
    carriers: Mapping[str, str] = {}
    if not all(ctx.forms.get(d.id) for d in ctx.deliverables):
        figures = await compute_figures(
            session=session, campaign_id=campaign_id, as_of=as_of, root_path=root_path
        )
        carriers = figures.carriers
    blocks = _blocks(ctx, carriers, lang)
    columns = unit_columns(blocks, lang)
    done = 0
    if progress_cb is not None:
        progress_cb(0, total)
    with output.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header(columns))
        async for values in _unit_values(
            session=session,
            ctx=ctx,
            as_of=as_of,
            root_path=root_path,
            lang=lang,
            blocks=blocks,
            levels=levels,
            batch_size=batch_size,
        ):
            writer.writerow([_csv_value(v, c.kind) for v, c in zip(values, columns, strict=True)])
            done += 1
            if progress_cb is not None and done % 500 == 0:
                progress_cb(done, total)
    if progress_cb is not None:
        progress_cb(done, total)
    return done


__all__ = [
    "Column",
    "csv_header",
    "rate_value",
    "shortcoming_label",
    "write_csv",
    "write_xlsx",
]
