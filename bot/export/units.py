"""Sheet 2 (one row per expected unit) and sheet 3 (the units that still owe something)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.export.sheet import PARENT, Column, column_maker, local_time
from storage.assessments import assessment_text
from storage.evidence import evidence_counts
from storage.figures import (
    DEADLINE,
    DELIVERABLE,
    LEVEL,
    LISTED_UNIT,
    REPORT,
    STATUS_LATE,
    STATUS_ON_TIME,
    UNIT,
    CampaignContext,
    expected_rows,
    unit_rows,
)
from storage.forms import FieldType, Form
from storage.i18n import t
from storage.i18n.formatting import level_label, name_in
from storage.models import MEASURES, ROLE_REPORTER, Person, Role
from storage.report_views import version_answers
from storage.tree import is_within


@dataclass(frozen=True)
class _Measure:
    measure: str
    label: str
    kind: str
    choices: tuple[tuple[str, str], ...] = ()  # a choice field: (value, label)
    in_answers: bool = False  # a form field with no measure column (a document's number)
    in_row: bool = False  # a name field (the presenter), read in the unit rows' own query


ASSESSMENT = "assessment"  # the session's assessment column (not a measure of the version)


@dataclass(frozen=True)
class _Block:
    """The columns of one deliverable on the units sheet."""

    key: str
    name: str
    measures: tuple[_Measure, ...]  # the figures it carries, in form order


_FIELD_KIND = {FieldType.INT: "int", FieldType.DATE: "date"}


def measure_blocks(ctx: CampaignContext, carriers: Mapping[str, str], lang: str) -> list[_Block]:
    """Each deliverable's measure columns: the form's fields that feed a measure; for a
    deliverable without a declared form, the measures the figures read from it."""
    blocks = []
    for d in ctx.deliverables:
        form = Form.model_validate(ctx.forms[d.id]) if ctx.forms.get(d.id) else None
        if form is not None:
            names = {f.key for f in form.name_fields()}
            measures = tuple(
                _Measure(f.key, f.label(lang), "text", in_row=True)
                if f.key in names
                else _Measure(
                    f.measure or "",
                    f.label(lang),
                    _FIELD_KIND.get(f.type, "text"),
                    tuple((c.value, c.label(lang)) for c in f.choices or ()),
                )
                for f in form.fields
                if f.measure or f.key in names  # the presenter's name beside their standing
            )
            measures += tuple(
                _Measure(f.key, f.label(lang), "text", in_answers=True)
                for f in form.document_fields()
            )
        else:
            measures = tuple(
                _Measure(m, t(f"export.measure.{m}", lang), _MEASURE_KIND.get(m, "int"))
                for m in MEASURES
                if carriers.get(m) == d.key
            )
        if any(m.measure == "presenter_standing" for m in measures):
            measures += (_Measure(ASSESSMENT, t("export.measure.assessment", lang), "text"),)
        blocks.append(_Block(d.key, name_in(d, lang), measures))
    return blocks


_MEASURE_KIND = {
    "session_date": "date",
    "action_program_date": "date",
    "action_program": "text",
}


def unit_columns(blocks: Sequence[_Block], lang: str) -> list[Column]:
    c = column_maker("units", lang, width=13)

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
        columns.append(c("evidence", "int", 12, block.name))  # "có biên bản": files attached
    return columns


class _Parents:
    """Parent codes from the tree order itself: a stack of ancestors (O(depth) memory)."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []  # (path, code)

    def parent_of(self, path: str, code: str) -> str | None:
        while self.stack and not is_within(path, self.stack[-1][0]):
            self.stack.pop()
        parent = self.stack[-1][1] if self.stack and self.stack[-1][0] == path[:-8] else None
        self.stack.append((path, code))
        return parent


async def level_labels(session: AsyncSession, lang: str) -> dict[str, str]:
    rows = (await session.execute(select(LEVEL.c.code, LEVEL.c.label_vi, LEVEL.c.label_en))).all()
    return {r.code: level_label(r, lang) for r in rows}


@dataclass(frozen=True)
class Reading:
    """What each per-unit sheet reads: the campaign's units under `root_path` (None: all) as of
    `as_of`, labelled in `lang` with the level labels `levels`, streamed `batch_size` at a time."""

    session: AsyncSession
    ctx: CampaignContext
    as_of: datetime
    root_path: str | None
    lang: str
    levels: Mapping[str, str]
    batch_size: int


async def unit_values(reading: Reading, blocks: Sequence[_Block]) -> AsyncIterator[list[Any]]:
    """The units sheet's rows as typed values (naive local datetimes, dates, ints, text)."""
    session, ctx, as_of, root_path = reading.session, reading.ctx, reading.as_of, reading.root_path
    lang, levels, batch_size = reading.lang, reading.levels, reading.batch_size
    zone = ZoneInfo(ctx.timezone)
    status_text = {
        STATUS_ON_TIME: t("export.status.on_time", lang),
        STATUS_LATE: t("export.status.late", lang),
    }
    missing_text = t("export.status.missing", lang)
    yes, no = t("common.yes", lang), t("common.no", lang)
    parents = _Parents()
    in_answers = {b.key: [m.measure for m in b.measures if m.in_answers] for b in blocks}
    documents = await version_answers(
        session=session,
        keys={key for keys in in_answers.values() for key in keys},
        deliverable_ids=[d.id for d in ctx.deliverables if in_answers.get(d.key)],
    )  # read before the stream: one query, as small as the campaign's programmes
    files = await evidence_counts(
        session=session, deliverable_ids=[d.id for d in ctx.deliverables], as_of=as_of
    )  # the reports that carry evidence, with their file counts as of `as_of`
    async for unit in unit_rows(
        session=session,
        campaign_id=ctx.id,
        as_of=as_of,
        root_path=root_path,
        batch_size=batch_size,
        answer_keys=[m.measure for b in blocks for m in b.measures if m.in_row],
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
                values += [None] * (6 + len(block.measures))
                continue
            values += [
                status_text.get(part.status, missing_text),
                part.due_date,
                part.report_id,
                part.version,
                local_time(part.first_confirmed_at, zone),
            ]
            for m in block.measures:
                if m.measure == ASSESSMENT:
                    values.append(assessment_text(part.assessment, lang))
                    continue
                if m.in_row:
                    values.append(part.answers.get(m.measure))
                    continue
                if m.in_answers:  # the version counted as of `as_of`
                    held = documents.get((part.report_id or 0, part.version or 0), {})
                    values.append(held.get(m.measure))
                    continue
                value: Any = part.measures.get(m.measure)
                if isinstance(value, bool):
                    value = yes if value else no
                elif m.choices and isinstance(value, str):
                    value = dict(m.choices).get(value, value)
                values.append(value)
            reported = part.report_id is not None and part.status in status_text
            values.append(files.get(part.report_id or 0, 0) if reported else None)
        yield values


# ---------------------------------------------------------------------------------------------
# Sheet 3: missing units


def missing_columns(lang: str) -> list[Column]:
    c = column_maker("missing", lang)

    return [
        c("code", width=12),
        c("name", width=34),
        c("level", width=16),
        c("parent_code", width=12),
        c("parent_name", width=30),
        c("owed", width=50),
        c("due", "date", 12),
        c("reporter", width=26),
        c("phone", width=16),
    ]


def _first_reporter(column: Any) -> Any:
    """The unit's first reporter's name or phone (a calling list), as a correlated subquery."""
    return (
        select(column)
        .select_from(Role)
        .join(Person, col(Person.id) == col(Role.person_id))
        .where(
            col(Role.unit_id) == UNIT.c.id,
            col(Role.kind) == ROLE_REPORTER,
            col(Person.forgotten_at).is_(None),
        )
        .order_by(col(Person.id))
        .limit(1)
        .scalar_subquery()
    )


async def missing_values(reading: Reading) -> AsyncIterator[list[Any]]:
    """One row per unit that has not reported at least one deliverable (as of `as_of`)."""
    session, ctx, as_of, root_path = reading.session, reading.ctx, reading.as_of, reading.root_path
    lang, levels, batch_size = reading.lang, reading.levels, reading.batch_size
    names = {d.id: name_in(d, lang) for d in ctx.deliverables}
    stmt = (
        expected_rows(
            ctx,
            [
                *LISTED_UNIT,
                DEADLINE.c.deliverable_id,
                PARENT.c.code.label("parent_code"),
                PARENT.c.name.label("parent_name"),
                DEADLINE.c.due_date,
                _first_reporter(col(Person.full_name)).label("reporter"),
                _first_reporter(col(Person.phone)).label("phone"),
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
        row.reporter,
        row.phone,
    ]
