"""Campaign figures: units expected / reported / on time / late / missing and the pooled rates.

Definitions (PRODUCT.md, "Figures: definitions"):

- expected: the unit is active at `as_of` (active, or deactivated after `as_of`), inside the
  campaign's scope and the requested scope, and its level has a deadline for the deliverable;
- reported: it has a report for that deliverable first confirmed at or before `as_of`;
- on time: first confirmed before the end of the deadline day in the campaign's timezone
  (a later correction never makes it late); late = reported - on time;
  missing = expected - reported;
- measures come from each report's latest version created at or before `as_of`, so figures
  "as of a week ago" are exactly what the data said then;
- rates are pooled (sum over sum), exact fractions: attendance = attended / members, essay =
  essays / attended, action program = units with a program / units expected, action plan =
  heads with a plan / heads.

A measure is read from whichever deliverable's versions carry it (non-null column); no deliverable
key is hard-coded. Everything is computed by set-based GROUP BY queries; nothing loops over units.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    case,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.access import Scope, collapse_paths, scopes_of
from storage.clock import end_of_day, local_date, require_aware
from storage.models import MEASURES, metadata
from storage.tree import in_subtree, path_upper_bound
from storage.types import UTCDateTime

UNIT = metadata.tables["unit"]
LEVEL = metadata.tables["level"]
CAMPAIGN = metadata.tables["campaign"]
DELIVERABLE = metadata.tables["deliverable"]
DEADLINE = metadata.tables["deliverable_deadline"]
REPORT = metadata.tables["report"]
VERSION = metadata.tables["report_version"]

STATUS_ON_TIME = "on_time"
STATUS_LATE = "late"
STATUS_MISSING = "missing"

# Measures summed into the figures (integers), and the yes/no measure counted as units.
SUMMED = ("members", "attended", "nonmembers_attended", "essays", "heads_with_plan", "heads")
PROGRAM = "action_program"
# Which measure tells which deliverable is "the study session" (first one carried wins).
SESSION_MEASURES = ("session_date", "attended", "duration_halfdays")
# Measures a figure depends on: looked up campaign-wide when the counted versions lack them.
FIGURE_MEASURES = (
    "session_date",
    "members",
    "attended",
    "essays",
    PROGRAM,
    "heads_with_plan",
    "heads",
)

WEEK = timedelta(days=7)


class CampaignNotFound(LookupError):
    pass


# ---------------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True)
class Rate:
    """An exact pooled rate; `value` is None when the denominator is 0 (shown as "—")."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None


@dataclass(frozen=True)
class LevelInfo:
    code: str
    label_vi: str
    label_en: str
    rank: int


@dataclass(frozen=True)
class DeliverableInfo:
    id: int
    key: str
    name_vi: str
    name_en: str
    position: int
    due_dates: Mapping[str, date]  # level code -> due date


@dataclass(frozen=True)
class Status:
    expected: int = 0
    reported: int = 0
    on_time: int = 0

    @property
    def late(self) -> int:
        return self.reported - self.on_time

    @property
    def missing(self) -> int:
        return self.expected - self.reported

    @property
    def reported_rate(self) -> Rate:
        return Rate(self.reported, self.expected)

    def __add__(self, other: Status) -> Status:
        return Status(
            self.expected + other.expected,
            self.reported + other.reported,
            self.on_time + other.on_time,
        )


@dataclass(frozen=True)
class Cell:
    """One deliverable at one level: status counts, sums of its measures, non-null counts."""

    status: Status = Status()
    sums: Mapping[str, int] = field(default_factory=dict)
    carried: Mapping[str, int] = field(default_factory=dict)  # measure -> non-null versions
    programs: int = 0  # versions with action_program true


@dataclass(frozen=True)
class GroupFigures:
    """Figures for one level or several levels pooled ("cấp tỉnh và cấp huyện")."""

    levels: tuple[LevelInfo, ...]
    status: Mapping[str, Status]  # deliverable key -> status, in deliverable order
    members: int
    attended: int
    nonmembers_attended: int
    essays: int
    units_with_program: int
    program_expected: int
    heads_with_plan: int
    heads: int
    session: Status  # status of the deliverable carrying the study session

    @property
    def attendance(self) -> Rate:
        return Rate(self.attended, self.members)

    @property
    def essay(self) -> Rate:
        return Rate(self.essays, self.attended)

    @property
    def action_program(self) -> Rate:
        return Rate(self.units_with_program, self.program_expected)

    @property
    def action_plan(self) -> Rate:
        return Rate(self.heads_with_plan, self.heads)

    @property
    def level_codes(self) -> tuple[str, ...]:
        return tuple(level.code for level in self.levels)


@dataclass(frozen=True)
class Figures:
    campaign_id: int
    reference: str
    campaign_name: str
    timezone: str
    as_of: datetime
    min_session_halfdays: int
    essay_rate_threshold: float
    deliverables: tuple[DeliverableInfo, ...]
    levels: tuple[LevelInfo, ...]  # every level some deliverable applies to, by rank
    carriers: Mapping[str, str]  # measure -> deliverable key carrying it
    cells: Mapping[tuple[str, str], Cell]  # (deliverable key, level code) -> cell
    combined: tuple[GroupFigures, ...] = ()
    previous: Figures | None = None  # the same figures one week earlier, when asked for

    @property
    def as_of_date(self) -> date:
        return local_date(self.as_of, self.timezone)

    @property
    def per_level(self) -> tuple[GroupFigures, ...]:
        return tuple(self.group((level.code,)) for level in self.levels)

    @property
    def total(self) -> GroupFigures:
        return self.group(tuple(level.code for level in self.levels))

    def level(self, code: str) -> GroupFigures:
        return self.group((code,))

    def deliverable(self, key: str) -> DeliverableInfo:
        for info in self.deliverables:
            if info.key == key:
                return info
        raise KeyError(key)

    def group(self, codes: Iterable[str]) -> GroupFigures:
        """Pool the given levels (unknown codes count as levels with no unit)."""
        wanted = list(dict.fromkeys(codes))
        known = {level.code: level for level in self.levels}
        levels = tuple(known.get(code, LevelInfo(code, code, code, 0)) for code in wanted)
        status = {
            d.key: sum((self.cells.get((d.key, code), Cell()).status for code in wanted), Status())
            for d in self.deliverables
        }

        def total(measure: str) -> int:
            carrier = self.carriers.get(measure)
            if carrier is None:
                return 0
            return sum(self.cells.get((carrier, c), Cell()).sums.get(measure, 0) for c in wanted)

        program_key = self.carriers.get(PROGRAM)
        session_key = next((self.carriers[m] for m in SESSION_MEASURES if m in self.carriers), None)
        return GroupFigures(
            levels=levels,
            status=status,
            members=total("members"),
            attended=total("attended"),
            nonmembers_attended=total("nonmembers_attended"),
            essays=total("essays"),
            units_with_program=sum(
                self.cells.get((program_key, c), Cell()).programs for c in wanted
            )
            if program_key
            else 0,
            program_expected=status[program_key].expected if program_key else 0,
            heads_with_plan=total("heads_with_plan"),
            heads=total("heads"),
            session=status[session_key] if session_key else Status(),
        )


def rate_change(current: Rate, previous: Rate) -> Fraction | None:
    """Change in percentage points between two rates (None when either is undefined)."""
    if current.value is None or previous.value is None:
        return None
    return (current.value - previous.value) * 100


# ---------------------------------------------------------------------------------------------
# Shared query pieces (also used by storage.shortcomings)


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
    # Campaign-wide carrier lookups made with this context (the same answer whatever the scope),
    # so a caller reusing the context for many scopes asks once.
    carrier_memo: dict[tuple[str, ...], dict[str, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def key_of(self, deliverable_id: int) -> str:
        return next(d.key for d in self.deliverables if d.id == deliverable_id)


async def load_campaign(*, session: AsyncSession, campaign_id: int) -> CampaignContext:
    row = (
        await session.execute(select(CAMPAIGN).where(CAMPAIGN.c.id == campaign_id))
    ).one_or_none()
    if row is None:
        raise CampaignNotFound(campaign_id)
    scope_path = None
    if row.scope_unit_id is not None:
        scope_path = (
            await session.execute(select(UNIT.c.path).where(UNIT.c.id == row.scope_unit_id))
        ).scalar_one_or_none()
    deliverables = (
        await session.execute(
            select(DELIVERABLE)
            .where(DELIVERABLE.c.campaign_id == campaign_id)
            .order_by(DELIVERABLE.c.position, DELIVERABLE.c.id)
        )
    ).all()
    deadlines = (
        await session.execute(
            select(DEADLINE, LEVEL.c.label_vi, LEVEL.c.label_en, LEVEL.c.rank)
            .join(DELIVERABLE, DELIVERABLE.c.id == DEADLINE.c.deliverable_id)
            .outerjoin(LEVEL, LEVEL.c.code == DEADLINE.c.level_code)
            .where(DELIVERABLE.c.campaign_id == campaign_id)
        )
    ).all()
    due: dict[int, dict[str, date]] = {}
    levels: dict[str, LevelInfo] = {}
    for dl in deadlines:
        due.setdefault(dl.deliverable_id, {})[dl.level_code] = dl.due_date
        if dl.rank is not None:
            levels[dl.level_code] = LevelInfo(dl.level_code, dl.label_vi, dl.label_en, dl.rank)
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
        deadline_ends={dl.id: end_of_day(dl.due_date, row.timezone) for dl in deadlines},
        deadline_rows=tuple(
            (dl.id, dl.deliverable_id, dl.level_code, dl.due_date) for dl in deadlines
        ),
        levels=tuple(sorted(levels.values(), key=lambda lv: (lv.rank, lv.code))),
    )


def scope_condition(
    ctx: CampaignContext,
    *,
    as_of: datetime,
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


def version_as_of(as_of: datetime) -> ColumnElement[Any]:
    """SQL, correlated to the outer `report` row: its latest version number created at or before
    `as_of`. One index probe per report (ix_report_version_report_created), so the cost follows
    the units counted, whatever the planner's statistics say."""
    older = VERSION.alias("older")
    return (
        select(func.max(older.c.version))
        .where(older.c.report_id == REPORT.c.id, older.c.created_at <= as_of)
        .scalar_subquery()
    )


def deadline_end(ctx: CampaignContext) -> ColumnElement[Any]:
    """SQL: the end (exclusive) of the row's deadline day, in the campaign's timezone."""
    if not ctx.deadline_ends:
        return literal(None, UTCDateTime())
    return case(
        {dl_id: literal(end, UTCDateTime()) for dl_id, end in ctx.deadline_ends.items()},
        value=DEADLINE.c.id,
    )


def expected_rows(
    ctx: CampaignContext,
    columns: Sequence[Any],
    *,
    as_of: datetime,
    root_path: str | None,
    unit_filter: ColumnElement[bool] | None,
    units: FromClause = UNIT,
) -> Select[Any]:
    """SELECT `columns` FROM every (expected unit, deliverable) pair, with its report and that
    report's version as of `as_of` outer-joined (NULL when none). `units` is `unit` itself or a
    join that ends in it (compute_figures_many: the scope list joined to `unit`)."""
    return (
        select(*columns)
        .select_from(units)
        .join(DEADLINE, DEADLINE.c.level_code == UNIT.c.level_code)
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
            ),
        )
        .outerjoin(
            VERSION,
            and_(VERSION.c.report_id == REPORT.c.id, VERSION.c.version == version_as_of(as_of)),
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


def _carriers_counted(
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


def _uncarried(carriers: Mapping[str, int], measures: Sequence[str]) -> list[str]:
    return [m for m in FIGURE_MEASURES if m in measures and m not in carriers]


async def _carriers_campaign_wide(
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
    carriers = _carriers_counted(ctx, carried, measures)
    missing = _uncarried(carriers, measures)
    carriers.update(await _carriers_campaign_wide(ctx, missing, session=session))
    return carriers


# ---------------------------------------------------------------------------------------------
# Figures


def _figure_columns(ctx: CampaignContext) -> list[Any]:
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


class _Tally:
    """Cells and carried counts of one scope, filled from grouped rows."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Cell] = {}
        self.carried: dict[int, dict[str, int]] = {}

    def add(self, row: Any, key: str) -> None:
        counts = {m: int(getattr(row, f"n_{m}")) for m in MEASURES}
        self.cells[(key, row.level_code)] = Cell(
            status=Status(int(row.expected), int(row.reported), int(row.on_time)),
            sums={m: int(getattr(row, f"sum_{m}")) for m in SUMMED},
            carried=counts,
            programs=int(row.programs),
        )
        into = self.carried.setdefault(row.deliverable_id, {})
        for m, n in counts.items():
            into[m] = into.get(m, 0) + n


def _figures(
    ctx: CampaignContext,
    *,
    as_of: datetime,
    tally: _Tally,
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
    )
    return replace(
        figures, combined=tuple(figures.group(codes) for codes in combined), previous=previous
    )


async def _context(
    session: AsyncSession, campaign_id: int, context: CampaignContext | None
) -> CampaignContext:
    if context is None:
        return await load_campaign(session=session, campaign_id=campaign_id)
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
) -> Figures:
    """The campaign's figures as of `as_of`, over the units in scope (see module docstring).

    `combined` lists groups of level codes to pool ("tinh", "huyen"). With `with_previous`,
    `Figures.previous` holds the same figures as of one week earlier (week-over-week change).
    `context` (from `load_campaign`) saves reloading the campaign on repeated calls. Many scopes
    at once: `compute_figures_many` (one statement for all of them)."""
    require_aware(as_of)
    ctx = await _context(session, campaign_id, context)
    stmt = expected_rows(
        ctx,
        [DEADLINE.c.deliverable_id, UNIT.c.level_code, *_figure_columns(ctx)],
        as_of=as_of,
        root_path=root_path,
        unit_filter=unit_filter,
    ).group_by(DEADLINE.c.deliverable_id, UNIT.c.level_code)
    keys = {d.id: d.key for d in ctx.deliverables}
    tally = _Tally()
    for row in (await session.execute(stmt)).all():
        tally.add(row, keys[row.deliverable_id])
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
    return _figures(
        ctx, as_of=as_of, tally=tally, carriers=carriers, combined=combined, previous=previous
    )


async def compute_change(
    *,
    session: AsyncSession,
    campaign_id: int,
    now: datetime,
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    combined: Sequence[tuple[str, ...]] = (),
    context: CampaignContext | None = None,
) -> Figures:
    """Figures as of `now` with `previous` = the figures as of `now` - 7 days."""
    return await compute_figures(
        session=session,
        campaign_id=campaign_id,
        as_of=now,
        root_path=root_path,
        unit_filter=unit_filter,
        combined=combined,
        with_previous=True,
        context=context,
    )


# ---------------------------------------------------------------------------------------------
# Figures for many scopes at once (digests)


@dataclass(frozen=True)
class UnitScope:
    """The units one set of figures counts: every subtree rooted at `paths`, plus the units
    `unit_ids` themselves (not their subtrees); the whole tree when `whole_tree`. A unit matched
    several times (a followed unit under another followed unit) is counted once."""

    paths: tuple[str, ...] = ()
    unit_ids: tuple[int, ...] = ()
    whole_tree: bool = False

    @classmethod
    def of(cls, scope: Scope | UnitScope) -> UnitScope:
        """A `storage.access.Scope` as units: exactly `visible_units_condition(scope)`."""
        if isinstance(scope, UnitScope):
            return scope
        return cls(
            paths=scope.subtree_roots,
            unit_ids=scope.reporter_unit_ids,
            whole_tree=scope.whole_tree,
        )


K = TypeVar("K", bound=Hashable)

# Scopes per statement, and VALUES rows (ranges + unit ids) per statement: they bound the
# statement's text (~50 bytes a row) and the rows held at once. Fewer statements is faster: on
# PostgreSQL each one pays a fixed cost (hashing the campaign's reports, JIT compilation).
SCOPES_PER_STATEMENT = 5_000
ROWS_PER_STATEMENT = 25_000
# Above every path ('0'-'9' digits, binary collation): ('', WHOLE_TREE_END) is the whole tree.
WHOLE_TREE_END = "~"


def _scope_rows(
    scopes: Sequence[UnitScope],
) -> tuple[list[tuple[int, str, str]], list[tuple[int, int]]]:
    """(scope index, lo, hi) path ranges and (scope index, unit id) rows. A scope's ranges are
    its roots with every root under another one dropped, so they are disjoint and no unit is
    matched twice through them; unit ids are de-duplicated per scope."""
    ranges: list[tuple[int, str, str]] = []
    ids: list[tuple[int, int]] = []
    for index, scope in enumerate(scopes):
        if scope.whole_tree:
            ranges.append((index, "", WHOLE_TREE_END))
            continue
        ranges.extend((index, p, path_upper_bound(p)) for p in collapse_paths(scope.paths))
        ids.extend((index, unit_id) for unit_id in sorted(set(scope.unit_ids)))
    return ranges, ids


def _values(name: str, columns: Sequence[tuple[str, Any]], rows: Sequence[tuple[Any, ...]]) -> Any:
    """A CTE over an inline VALUES list of integers and digit strings, rendered here: the
    compiler takes ~0.3 s per 10,000 rows, and bind parameters would exceed the drivers' limits
    (a temporary table cannot be created in a read-only transaction)."""

    def render(value: Any) -> str:
        if isinstance(value, int):
            return str(int(value))
        if not (value.isdigit() or value in ("", WHOLE_TREE_END)):
            raise ValueError(f"not a path: {value!r}")
        return f"'{value}'"

    body = ", ".join("(" + ", ".join(render(v) for v in row) + ")" for row in rows)
    names = ", ".join(f"v.column{i} AS {col}" for i, (col, _) in enumerate(columns, start=1))
    return (
        text(f"SELECT {names} FROM (VALUES {body}) AS v")
        .columns(*(column(col, type_) for col, type_ in columns))
        .cte(name)
    )


def _scoped_units(
    ranges: list[tuple[int, str, str]], ids: list[tuple[int, int]]
) -> tuple[FromClause, Any] | None:
    """A FROM ending in `unit`, one row per (scope, unit) counted, and its scope-key column.

    The (scope, unit) set is a MATERIALIZED CTE: each range is one scan of the path index, and
    the grouped query then reaches `unit` by primary key. Left to itself, SQLite's planner drives
    the join from the deadlines and scans units by level (13x slower)."""
    if not ranges and not ids:
        return None
    range_cte = _values(
        "scope_range",
        (("k", Integer()), ("lo", String()), ("hi", String())),
        ranges or [(-1, "", "")],
    )
    unit = UNIT.alias("scope_unit")
    # Disjoint ranges per scope: each (scope, unit) once without DISTINCT.
    in_ranges = select(range_cte.c.k, unit.c.id.label("unit_id")).join(
        unit, and_(unit.c.path >= range_cte.c.lo, unit.c.path < range_cte.c.hi)
    )
    if ids:
        id_cte = _values("scope_unit_id", (("k", Integer()), ("unit_id", Integer())), ids)
        # UNION (not UNION ALL): a unit listed by id and inside a followed subtree counts once.
        member = union(in_ranges, select(id_cte.c.k, id_cte.c.unit_id)).cte("scope_member")
    else:
        member = in_ranges.cte("scope_member")
    member = member.prefix_with("MATERIALIZED")
    return member.join(UNIT, UNIT.c.id == member.c.unit_id), member.c.k


def scoped_units(scopes: Sequence[UnitScope]) -> tuple[FromClause, Any] | None:
    """For a statement over many scopes at once (keep to one `scope_chunks` slice): a FROM
    ending in `unit` with one row per (scope, unit) in it, and the scope-key column (the index
    in `scopes`). None when no scope has a unit. Pass the FROM as `expected_rows(units=...)`."""
    ranges, ids = _scope_rows(scopes)
    return _scoped_units(ranges, ids)


def scope_chunks(
    scopes: Sequence[UnitScope], chunk: int = SCOPES_PER_STATEMENT
) -> Iterable[tuple[int, int]]:
    """(start, stop) slices of `scopes` small enough for one statement (see `_chunks`)."""
    return _chunks(scopes, max(1, chunk))


def _chunks(scopes: Sequence[UnitScope], chunk: int) -> Iterable[tuple[int, int]]:
    """(start, stop) slices of at most `chunk` scopes and about ROWS_PER_STATEMENT rows."""
    start, rows = 0, 0
    for index, scope in enumerate(scopes):
        size = 1 if scope.whole_tree else len(scope.paths) + len(scope.unit_ids)
        if index > start and (index - start >= chunk or rows + size > ROWS_PER_STATEMENT):
            yield start, index
            start, rows = index, 0
        rows += size
    if start < len(scopes):
        yield start, len(scopes)


async def _many_as_of(
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    scopes: Sequence[UnitScope],
    chunk: int,
) -> list[_Tally]:
    """One tally per scope: one grouped statement per chunk of scopes."""
    keys = {d.id: d.key for d in ctx.deliverables}
    tallies = [_Tally() for _ in scopes]
    columns = _figure_columns(ctx)
    for start, stop in _chunks(scopes, chunk):
        ranges, ids = _scope_rows(scopes[start:stop])
        scoped = _scoped_units(ranges, ids)
        if scoped is None:
            continue
        units, scope_key = scoped
        stmt = expected_rows(
            ctx,
            [scope_key.label("scope_key"), DEADLINE.c.deliverable_id, UNIT.c.level_code, *columns],
            as_of=as_of,
            root_path=None,
            unit_filter=None,
            units=units,
        ).group_by(scope_key, DEADLINE.c.deliverable_id, UNIT.c.level_code)
        for row in (await session.execute(stmt)).all():
            tallies[start + row.scope_key].add(row, keys[row.deliverable_id])
    return tallies


async def compute_figures_many(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    scopes: Mapping[K, Scope | UnitScope],
    combined: Sequence[tuple[str, ...]] = (),
    with_previous: bool = False,
    context: CampaignContext | None = None,
    chunk: int = SCOPES_PER_STATEMENT,
) -> dict[K, Figures]:
    """`compute_figures` for every scope at once, equal to it scope by scope.

    The campaign is loaded once; the scopes' path ranges and unit ids become a VALUES list joined
    to `unit` and grouped by scope, deliverable and level: one set-based statement per `chunk`
    scopes or ROWS_PER_STATEMENT ranges and ids (and per as-of time: twice with `with_previous`),
    plus at most one campaign-wide carrier lookup. A `storage.access.Scope` counts what
    `visible_units_condition` shows."""
    require_aware(as_of)
    ctx = await _context(session, campaign_id, context)
    keys = list(scopes)
    units = [UnitScope.of(scopes[k]) for k in keys]

    async def at(moment: datetime) -> list[tuple[_Tally, dict[str, int]]]:
        tallies = await _many_as_of(session, ctx, moment, units, max(1, chunk))
        chosen = [_carriers_counted(ctx, t.carried, MEASURES) for t in tallies]
        missing = sorted({m for c in chosen for m in _uncarried(c, MEASURES)})
        wide = await _carriers_campaign_wide(ctx, missing, session=session)
        for carriers in chosen:
            for m in _uncarried(carriers, MEASURES):
                if m in wide:
                    carriers[m] = wide[m]
        return list(zip(tallies, chosen, strict=True))

    now = await at(as_of)
    before = await at(as_of - WEEK) if with_previous else [None] * len(keys)
    result: dict[K, Figures] = {}
    for key, (tally, carriers), earlier in zip(keys, now, before, strict=True):
        previous = (
            _figures(
                ctx,
                as_of=as_of - WEEK,
                tally=earlier[0],
                carriers=earlier[1],
                combined=combined,
                previous=None,
            )
            if earlier is not None
            else None
        )
        result[key] = _figures(
            ctx, as_of=as_of, tally=tally, carriers=carriers, combined=combined, previous=previous
        )
    return result


def digest_units(scope: Scope) -> UnitScope | None:
    """What a person's digest counts: their admin subtrees (or the whole tree) and the units they
    supervise with their subtrees; a reporter role adds nothing. None without such a role."""
    if not (scope.is_admin or scope.is_supervisor):
        return None
    return UnitScope(paths=scope.subtree_roots, whole_tree=scope.whole_tree)


async def figures_for_people(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    person_ids: Iterable[int],
    combined: Sequence[tuple[str, ...]] = (),
    with_previous: bool = False,
    context: CampaignContext | None = None,
) -> dict[int, Figures]:
    """Each person's digest figures (`digest_units`), all at once: one role query, then
    `compute_figures_many`. People with no admin or supervisor role (or forgotten) are left out.
    Equal, person by person, to `compute_figures(unit_filter=visible_units_condition(
    scheduler.digest.digest_scope(scope)))`."""
    scopes = await scopes_of(session=session, person_ids=person_ids)
    units = {pid: u for pid, scope in scopes.items() if (u := digest_units(scope)) is not None}
    return await compute_figures_many(
        session=session,
        campaign_id=campaign_id,
        as_of=as_of,
        scopes=units,
        combined=combined,
        with_previous=with_previous,
        context=context,
    )


# ---------------------------------------------------------------------------------------------
# Per-unit listing (exports, digests)


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
) -> AsyncIterator[UnitFigures]:
    """One `UnitFigures` per expected unit (tree order), streamed from one query in batches."""
    require_aware(as_of)
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
            *(VERSION.c[m] for m in MEASURES),
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
                )
            )
    if current is not None:
        yield _unit(current, parts)


def _unit(row: Any, parts: list[UnitDeliverable]) -> UnitFigures:
    return UnitFigures(
        code=row.code,
        name=row.name,
        level_code=row.level_code,
        path=row.path,
        members=row.unit_members,
        deliverables=tuple(parts),
    )
