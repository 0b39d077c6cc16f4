"""One scope's figures (`compute_figures`, with the week before on request) and the per-unit
listing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    func,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import require_aware
from storage.figures.overlap import cover_columns, covers_of, owner_scope, with_cover
from storage.figures.query import (
    CampaignContext,
    choose_carriers,
    deadline_end,
    expected_rows,
    load_campaign,
)
from storage.figures.values import (
    DEADLINE,
    DELIVERABLE,
    REPORT,
    STATUS_LATE,
    STATUS_MISSING,
    STATUS_ON_TIME,
    SUMMED,
    UNIT,
    VERSION,
    WEEK,
    Cell,
    Figures,
    Status,
)
from storage.models import MEASURES


def figure_columns(ctx: CampaignContext) -> list[Any]:
    """The aggregates of one (deliverable, level) cell, over `expected_rows`."""
    on_time = case((REPORT.c.first_confirmed_at < deadline_end(ctx), 1), else_=0)
    return [
        func.count().label("expected"),
        func.count(REPORT.c.id).label("reported"),
        func.coalesce(func.sum(on_time), 0).label("on_time"),
        func.coalesce(func.sum(case((VERSION.c.action_program.is_(True), 1), else_=0)), 0).label(
            "programs"
        ),
        *(func.coalesce(func.sum(VERSION.c[m]), 0).label(f"sum_{m}") for m in SUMMED),
        *(func.count(VERSION.c[m]).label(f"n_{m}") for m in MEASURES),
    ]


class Tally:
    """Cells and carried counts of one scope, filled from grouped rows (one row per deliverable,
    level and covering level, see `storage.figures.overlap`)."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Cell] = {}
        self.covered: dict[tuple[str, str, frozenset[str]], Cell] = {}
        self.carried: dict[int, dict[str, int]] = {}

    def add(self, row: Any, key: str, chained: Sequence[str] = ()) -> None:
        counts = {m: int(getattr(row, f"n_{m}")) for m in MEASURES}
        cell = Cell(
            status=Status(int(row.expected), int(row.reported), int(row.on_time)),
            sums={m: int(getattr(row, f"sum_{m}")) for m in SUMMED},
            carried=counts,
            programs=int(row.programs),
        )
        at = (key, row.level_code)
        self.cells[at] = self.cells[at] + cell if at in self.cells else cell
        covers = covers_of(row, chained)
        if covers:
            part = (key, row.level_code, covers)
            self.covered[part] = self.covered[part] + cell if part in self.covered else cell
        into = self.carried.setdefault(row.deliverable_id, {})
        for m, n in counts.items():
            into[m] = into.get(m, 0) + n


def figures_from_tally(
    ctx: CampaignContext,
    *,
    as_of: datetime,
    tally: Tally,
    carriers: Mapping[str, int],
    combined: Sequence[tuple[str, ...]],
    previous: Figures | None,
) -> Figures:
    keys = {d.id: d.key for d in ctx.deliverables}
    figures = Figures(
        campaign_id=ctx.id,
        reference=ctx.reference,
        campaign_name=ctx.name,
        timezone=ctx.timezone,
        as_of=as_of,
        min_session_halfdays=ctx.min_session_halfdays,
        essay_rate_threshold=ctx.essay_rate_threshold,
        deliverables=ctx.deliverables,
        levels=ctx.levels,
        carriers={m: keys[d] for m, d in carriers.items()},
        cells=tally.cells,
        covered=tally.covered,
        groups=ctx.groups,
        approved_only=ctx.approved_only,
    )
    pooled = (
        tuple(figures.group(codes) for codes in combined) if combined else figures.reporting_groups
    )
    return replace(figures, combined=pooled, previous=previous)


async def context_or_load(
    session: AsyncSession,
    campaign_id: int,
    context: CampaignContext | None,
    approved_only: bool = False,
) -> CampaignContext:
    if context is None:
        return await load_campaign(
            session=session, campaign_id=campaign_id, approved_only=approved_only
        )
    if context.id != campaign_id:
        raise ValueError(f"context is campaign {context.id}, not {campaign_id}")
    return context


async def compute_figures(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    combined: Sequence[tuple[str, ...]] = (),
    with_previous: bool = False,
    context: CampaignContext | None = None,
    approved_only: bool = False,
) -> Figures:
    """The campaign's figures as of `as_of`, over the units in scope (see module docstring).
    `approved_only`: over approved report versions only (`Figures.approved_only` says so);
    a given `context` carries its own basis.

    `combined` lists groups of level codes to pool ("tinh", "huyen"). With `with_previous`,
    `Figures.previous` holds the same figures as of one week earlier (week-over-week change).
    `context` (from `load_campaign`) saves reloading the campaign on repeated calls. Many scopes
    at once: `compute_figures_many` (one statement for all of them)."""
    require_aware(as_of)
    ctx = await context_or_load(session, campaign_id, context, approved_only)
    cover = cover_columns(
        ctx.separate_levels,
        ctx.chained_levels,
        ctx.max_depth,
        owner_scope(
            as_of=as_of, scope_path=ctx.scope_path, root_path=root_path, unit_filter=unit_filter
        ),
    )
    columns, grouped = with_cover(
        [DEADLINE.c.deliverable_id, UNIT.c.level_code, *figure_columns(ctx)], cover
    )
    stmt = expected_rows(
        ctx,
        columns,
        as_of=as_of,
        root_path=root_path,
        unit_filter=unit_filter,
        units=cover.joined(UNIT),
    ).group_by(DEADLINE.c.deliverable_id, UNIT.c.level_code, *grouped)
    keys = {d.id: d.key for d in ctx.deliverables}
    tally = Tally()
    for row in (await session.execute(stmt)).all():
        tally.add(row, keys[row.deliverable_id], ctx.chained_levels)
    carriers = await choose_carriers(ctx, tally.carried, session=session)
    previous = None
    if with_previous:
        previous = await compute_figures(
            session=session,
            campaign_id=campaign_id,
            as_of=as_of - WEEK,
            root_path=root_path,
            unit_filter=unit_filter,
            combined=combined,
            context=ctx,
        )
    return figures_from_tally(
        ctx, as_of=as_of, tally=tally, carriers=carriers, combined=combined, previous=previous
    )


# ---------------------------------------------------------------------------------------------
# Figures for many scopes at once (digests)


@dataclass(frozen=True)
class UnitDeliverable:
    key: str
    status: str  # STATUS_ON_TIME / STATUS_LATE / STATUS_MISSING
    due_date: date
    report_id: int | None
    version: int | None
    first_confirmed_at: datetime | None
    version_created_at: datetime | None
    measures: Mapping[str, Any]  # only the non-null measures of the version
    assessment: str | None = None  # the session's assessment as of `as_of` (storage.assessments)
    # The version's non-empty text answers among the `answer_keys` asked of `unit_rows` (form
    # fields with no measure column, such as the presenter's name).
    answers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitFigures:
    code: str
    name: str
    level_code: str
    path: str
    members: int
    deliverables: tuple[UnitDeliverable, ...]


async def unit_rows(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    batch_size: int = 2000,
    answer_keys: Sequence[str] = (),
) -> AsyncIterator[UnitFigures]:
    """One `UnitFigures` per expected unit (tree order), streamed from one query in batches.
    `answer_keys`: form fields read as text from each counted version's answers in the same
    query (`UnitDeliverable.answers`), so a national listing needs no query per unit."""
    require_aware(as_of)
    answer_keys = tuple(dict.fromkeys(answer_keys))
    ctx = await load_campaign(session=session, campaign_id=campaign_id)
    keys = {d.id: d.key for d in ctx.deliverables}
    on_time = case((REPORT.c.first_confirmed_at < deadline_end(ctx), True), else_=False)
    stmt = expected_rows(
        ctx,
        [
            UNIT.c.code,
            UNIT.c.name,
            UNIT.c.level_code,
            UNIT.c.path,
            UNIT.c.members.label("unit_members"),
            DEADLINE.c.deliverable_id,
            DEADLINE.c.due_date,
            REPORT.c.id.label("report_id"),
            REPORT.c.first_confirmed_at,
            VERSION.c.version,
            VERSION.c.created_at.label("version_created_at"),
            on_time.label("on_time"),
            case((REPORT.c.assessed_at <= as_of, REPORT.c.assessment), else_=None).label(
                "assessment"
            ),
            *(VERSION.c[m] for m in MEASURES),
            *(
                VERSION.c.answers[key].as_string().label(f"answer_{i}")
                for i, key in enumerate(answer_keys)
            ),
        ],
        as_of=as_of,
        root_path=root_path,
        unit_filter=unit_filter,
    ).order_by(UNIT.c.path, DELIVERABLE.c.position, DELIVERABLE.c.id)
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    current: Any = None
    parts: list[UnitDeliverable] = []
    async for batch in result.partitions(batch_size):
        for row in batch:
            if current is not None and row.path != current.path:
                yield _unit(current, parts)
                parts = []
            current = row
            if row.report_id is None:
                status = STATUS_MISSING
            else:
                status = STATUS_ON_TIME if row.on_time else STATUS_LATE
            parts.append(
                UnitDeliverable(
                    key=keys[row.deliverable_id],
                    status=status,
                    due_date=row.due_date,
                    report_id=row.report_id,
                    version=row.version,
                    first_confirmed_at=row.first_confirmed_at,
                    version_created_at=row.version_created_at,
                    measures={m: getattr(row, m) for m in MEASURES if getattr(row, m) is not None},
                    assessment=row.assessment,
                    answers=_answers(row, answer_keys),
                )
            )
    if current is not None:
        yield _unit(current, parts)


def _answers(row: Any, keys: Sequence[str]) -> dict[str, str]:
    found = ((key, getattr(row, f"answer_{i}")) for i, key in enumerate(keys))
    texts = ((key, str(value)) for key, value in found if value is not None)
    return {key: text for key, text in texts if text.strip()}  # as stored, blanks left out


def _unit(row: Any, parts: list[UnitDeliverable]) -> UnitFigures:
    return UnitFigures(
        code=row.code,
        name=row.name,
        level_code=row.level_code,
        path=row.path,
        members=row.unit_members,
        deliverables=tuple(parts),
    )
