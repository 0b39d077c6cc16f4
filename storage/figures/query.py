"""The loaded campaign context and the query pieces shared by figures, shortcomings and digests:
scope and as-of conditions, the expected rows, and which deliverable carries each measure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from storage.clock import end_of_day
from storage.figures.values import (
    CAMPAIGN,
    DEADLINE,
    DELIVERABLE,
    FIGURE_MEASURES,
    LEVEL,
    REPORT,
    UNIT,
    VERSION,
    CampaignNotFound,
    DeliverableInfo,
    LevelInfo,
    ReportingGroup,
)
from storage.models import MEASURES
from storage.tree import in_subtree
from storage.types import UTCDateTime

# A moment in SQL: a datetime, or a bound parameter a kept statement reads it from
# (storage.figures.memo).
AsOf = datetime | ColumnElement[Any]

# How a listing of units names (and orders) each one: code, name, level, tree path. The
# shortcomings and the workbook's missing sheet select these and group or sort by them.
LISTED_UNIT = (UNIT.c.code, UNIT.c.name, UNIT.c.level_code, UNIT.c.path)


@dataclass(frozen=True)
class CampaignContext:
    id: int
    reference: str
    name: str
    timezone: str
    scope_path: str | None
    min_session_halfdays: int
    essay_rate_threshold: float
    deliverables: tuple[DeliverableInfo, ...]
    forms: Mapping[int, Any]
    deadline_ends: Mapping[int, datetime]  # deadline id -> end of its day (exclusive), UTC
    deadline_rows: tuple[tuple[int, int, str, date], ...]  # (id, deliverable id, level, due)
    levels: tuple[LevelInfo, ...] = ()  # every level some deliverable applies to, by rank
    groups: tuple[ReportingGroup, ...] = ()  # the campaign's reporting groups
    max_depth: int = 0  # the deepest unit's depth (how far to look for owners)
    # True: count only approved report versions (storage.review): a report counts with its
    # latest version approved at `as_of`, and a report with none counts as not reported.
    approved_only: bool = False
    # Campaign-wide carrier lookups made with this context (the same answer whatever the scope),
    # so a caller reusing the context for many scopes asks once.
    carrier_memo: dict[tuple[str, ...], dict[str, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def separate_levels(self) -> frozenset[str]:
        """Levels whose units report separately (in some reporting group; see `overlap`)."""
        return frozenset(code for g in self.groups for code in g.levels)

    @property
    def chained_levels(self) -> tuple[str, ...]:
        """Levels that do not report separately (when some group is declared)."""
        if not self.groups:
            return ()
        separate = self.separate_levels
        return tuple(lv.code for lv in self.levels if lv.code not in separate)

    def key_of(self, deliverable_id: int) -> str:
        return next(d.key for d in self.deliverables if d.id == deliverable_id)


async def load_campaign(
    *, session: AsyncSession, campaign_id: int, approved_only: bool = False
) -> CampaignContext:
    # Two statements: the campaign with its scope unit's path, then its deliverables each with
    # its deadlines (one row per deadline; a deliverable without any has one row of nulls).
    row = (
        await session.execute(
            select(CAMPAIGN, UNIT.c.path.label("scope_path"))
            .outerjoin(UNIT, UNIT.c.id == CAMPAIGN.c.scope_unit_id)
            .where(CAMPAIGN.c.id == campaign_id)
        )
    ).one_or_none()
    if row is None:
        raise CampaignNotFound(campaign_id)
    scope_path = row.scope_path
    rows = (
        await session.execute(
            select(
                DELIVERABLE,
                DEADLINE.c.id.label("deadline_id"),
                DEADLINE.c.level_code,
                DEADLINE.c.due_date,
                LEVEL.c.label_vi,
                LEVEL.c.label_en,
                LEVEL.c.rank,
            )
            .outerjoin(DEADLINE, DEADLINE.c.deliverable_id == DELIVERABLE.c.id)
            .outerjoin(LEVEL, LEVEL.c.code == DEADLINE.c.level_code)
            .where(DELIVERABLE.c.campaign_id == campaign_id)
            .order_by(DELIVERABLE.c.position, DELIVERABLE.c.id, DEADLINE.c.id)
        )
    ).all()
    deliverables = list({r.id: r for r in rows}.values())
    deadlines = [r for r in rows if r.deadline_id is not None]
    due: dict[int, dict[str, date]] = {}
    levels: dict[str, LevelInfo] = {}
    for dl in deadlines:
        due.setdefault(dl.id, {})[dl.level_code] = dl.due_date
        if dl.rank is not None:
            levels[dl.level_code] = LevelInfo(dl.level_code, dl.label_vi, dl.label_en, dl.rank)
    groups = reporting_groups_of(row.definition)
    max_depth = 0
    if groups:
        max_depth = int((await session.execute(select(func.max(UNIT.c.depth)))).scalar() or 0)
    return CampaignContext(
        id=row.id,
        reference=row.reference,
        name=row.name,
        timezone=row.timezone,
        scope_path=scope_path,
        min_session_halfdays=row.min_session_halfdays,
        essay_rate_threshold=row.essay_rate_threshold,
        deliverables=tuple(
            DeliverableInfo(d.id, d.key, d.name_vi, d.name_en, d.position, due.get(d.id, {}))
            for d in deliverables
        ),
        forms={d.id: d.form for d in deliverables},
        deadline_ends={dl.deadline_id: end_of_day(dl.due_date, row.timezone) for dl in deadlines},
        deadline_rows=tuple(
            (dl.deadline_id, dl.id, dl.level_code, dl.due_date) for dl in deadlines
        ),
        levels=tuple(sorted(levels.values(), key=lambda lv: (lv.rank, lv.code))),
        groups=groups,
        max_depth=max_depth,
        approved_only=approved_only,
    )


def reporting_groups_of(definition: Any) -> tuple[ReportingGroup, ...]:
    """The reporting groups stored with the campaign (`campaign.reporting_groups` in its file)."""
    info = definition.get("campaign", {}) if isinstance(definition, Mapping) else {}
    groups = info.get("reporting_groups") or [] if isinstance(info, Mapping) else []
    return tuple(
        ReportingGroup(
            code=str(g["code"]),
            label_vi=str(g["label_vi"]),
            label_en=str(g.get("label_en") or g["label_vi"]),
            levels=tuple(str(code) for code in g["levels"]),
        )
        for g in groups
        if isinstance(g, Mapping) and g.get("levels")
    )


def scope_condition(
    ctx: CampaignContext,
    *,
    as_of: AsOf,
    root_path: str | None,
    unit_filter: ColumnElement[bool] | None,
) -> ColumnElement[bool]:
    """Units counted: active at `as_of`, in the campaign's scope, the subtree and the filter.

    Rows come from the unit table itself, so a unit matched twice by an overlapping supervisor
    filter is still one row, counted once."""
    conditions: list[ColumnElement[bool]] = [
        or_(UNIT.c.active.is_(True), UNIT.c.deactivated_at > as_of)
    ]
    if ctx.scope_path:
        conditions.append(in_subtree(UNIT.c.path, ctx.scope_path))
    if root_path:
        conditions.append(in_subtree(UNIT.c.path, root_path))
    if unit_filter is not None:
        conditions.append(unit_filter)
    return and_(*conditions)


def version_as_of(as_of: AsOf, approved_only: bool = False) -> ColumnElement[Any]:
    """SQL, correlated to the outer `report` row: its latest version number created at or before
    `as_of` (`approved_only`: and approved by then). One index probe per report
    (ix_report_version_report_created), so the cost follows the units counted, whatever the
    planner's statistics say."""
    older = VERSION.alias("older")
    conditions = [older.c.report_id == REPORT.c.id, older.c.created_at <= as_of]
    if approved_only:
        conditions += [older.c.review_state == "approved", older.c.reviewed_at <= as_of]
    return select(func.max(older.c.version)).where(*conditions).scalar_subquery()


def deadline_end(ctx: CampaignContext) -> ColumnElement[Any]:
    """SQL: the end (exclusive) of the row's deadline day, in the campaign's timezone."""
    if not ctx.deadline_ends:
        return literal(None, UTCDateTime())
    return case(
        {dl_id: literal(end, UTCDateTime()) for dl_id, end in ctx.deadline_ends.items()},
        value=DEADLINE.c.id,
    )


class unindexed(FunctionElement[Any]):
    """The column as is, written `+column` on SQLite: SQLite's documented way to keep a term
    from driving an index lookup (sqlite.org/optoverview.html, "Disqualifying WHERE clause
    terms using unary-+"), for a join that must run from the other side."""

    name = "unindexed"
    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def expected_rows(
    ctx: CampaignContext,
    columns: Sequence[Any],
    *,
    as_of: AsOf,
    root_path: str | None,
    unit_filter: ColumnElement[bool] | None,
    units: FromClause = UNIT,
) -> Select[Any]:
    """SELECT `columns` FROM every (expected unit, deliverable) pair, with its report and that
    report's version as of `as_of` outer-joined (NULL when none). `units` is `unit` itself or a
    join that ends in it (compute_figures_many: the scope list joined to `unit`).

    Over a scope join the units come from the scope's rows: SQLite, planning without
    statistics, would otherwise reach `unit` from each deadline through its level index and
    probe the scope's rows for each of those units (27 ms for the late list of 38 units of
    20,000), so the level term does not drive a lookup of `unit` there."""
    level = UNIT.c.level_code if units is UNIT else unindexed(UNIT.c.level_code)
    return (
        select(*columns)
        .select_from(units)
        .join(DEADLINE, DEADLINE.c.level_code == level)
        .join(
            DELIVERABLE,
            and_(
                DELIVERABLE.c.id == DEADLINE.c.deliverable_id,
                DELIVERABLE.c.campaign_id == ctx.id,
            ),
        )
        .outerjoin(
            REPORT,
            and_(
                REPORT.c.deliverable_id == DEADLINE.c.deliverable_id,
                REPORT.c.unit_id == UNIT.c.id,
                REPORT.c.first_confirmed_at <= as_of,
                *([version_as_of(as_of, True).is_not(None)] if ctx.approved_only else []),
            ),
        )
        .outerjoin(
            VERSION,
            and_(
                VERSION.c.report_id == REPORT.c.id,
                VERSION.c.version == version_as_of(as_of, ctx.approved_only),
            ),
        )
        .where(scope_condition(ctx, as_of=as_of, root_path=root_path, unit_filter=unit_filter))
    )


def _declares(form: Any, measure: str) -> bool:
    """Whether a deliverable's form declaration has a field feeding `measure` (`measure: X`)."""
    if isinstance(form, Mapping):
        return form.get("measure") == measure or any(_declares(v, measure) for v in form.values())
    if isinstance(form, list | tuple):
        return any(_declares(item, measure) for item in form)
    return False


def carriers_counted(
    ctx: CampaignContext, carried: Mapping[int, Mapping[str, int]], measures: Sequence[str]
) -> dict[str, int]:
    """The carriers found without a query: most non-null values counted, then the form."""
    carriers: dict[str, int] = {}
    for measure in measures:
        best: tuple[int, int] | None = None
        for order, d in enumerate(ctx.deliverables):
            count = carried.get(d.id, {}).get(measure, 0)
            if count and (best is None or count > best[0]):
                best = (count, order)
        if best is not None:
            carriers[measure] = ctx.deliverables[best[1]].id
            continue
        declared = next(
            (d.id for d in ctx.deliverables if _declares(ctx.forms[d.id], measure)), None
        )
        if declared is not None:
            carriers[measure] = declared
    return carriers


def uncarried(carriers: Mapping[str, int], measures: Sequence[str]) -> list[str]:
    return [m for m in FIGURE_MEASURES if m in measures and m not in carriers]


async def carriers_campaign_wide(
    ctx: CampaignContext, missing: Sequence[str], *, session: AsyncSession
) -> dict[str, int]:
    """measure -> first deliverable (form order) with any version carrying it, campaign-wide
    (one EXISTS query; the same answer whatever the scope)."""
    if not missing or not ctx.deliverables:
        return {}
    key = tuple(missing)
    if key not in ctx.carrier_memo:
        ctx.carrier_memo[key] = await _carriers_lookup(ctx, missing, session=session)
    return dict(ctx.carrier_memo[key])


async def _carriers_lookup(
    ctx: CampaignContext, missing: Sequence[str], *, session: AsyncSession
) -> dict[str, int]:
    stmt = select(
        DELIVERABLE.c.id,
        *(
            exists()
            .where(
                REPORT.c.deliverable_id == DELIVERABLE.c.id,
                VERSION.c.report_id == REPORT.c.id,
                VERSION.c[m].is_not(None),
            )
            .label(m)
            for m in missing
        ),
    ).where(DELIVERABLE.c.campaign_id == ctx.id)
    found = {row.id: row for row in (await session.execute(stmt)).all()}
    hits: dict[str, int] = {}
    for m in missing:
        hit = next((d.id for d in ctx.deliverables if getattr(found[d.id], m)), None)
        if hit is not None:
            hits[m] = hit
    return hits


async def choose_carriers(
    ctx: CampaignContext,
    carried: Mapping[int, Mapping[str, int]],
    *,
    session: AsyncSession,
    measures: Sequence[str] = MEASURES,
) -> dict[str, int]:
    """measure -> deliverable id carrying it.

    First the deliverable with the most non-null values among the versions counted (ties: form
    order). A measure no counted version carries yet (nothing reported in this scope or at this
    date) falls back to the first deliverable whose form declares it, then to the first
    deliverable with any version carrying it in the whole campaign (one EXISTS query)."""
    carriers = carriers_counted(ctx, carried, measures)
    missing = uncarried(carriers, measures)
    carriers.update(await carriers_campaign_wide(ctx, missing, session=session))
    return carriers
