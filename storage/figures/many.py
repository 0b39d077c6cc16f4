"""Figures for many scopes at once (the digests of many people): one grouped statement for the
as-of times asked (now, and a week earlier with `with_previous`; one per as-of time on SQLite),
split by `SCOPES_PER_STATEMENT` and `ROWS_PER_STATEMENT`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    FromClause,
    Integer,
    String,
    and_,
    bindparam,
    column,
    literal,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.access import Scope, collapse_paths, scopes_of
from storage.clock import require_aware
from storage.figures.compute import Tally, context_or_load, figure_columns, figures_from_tally
from storage.figures.memo import AS_OF, SMALL_SCOPE, STATEMENTS, as_of_param, context_key
from storage.figures.overlap import cover_columns, owner_scope, with_cover
from storage.figures.query import (
    AsOf,
    CampaignContext,
    carriers_campaign_wide,
    carriers_counted,
    expected_rows,
    uncarried,
)
from storage.figures.values import DEADLINE, UNIT, WEEK, Figures
from storage.models import MEASURES
from storage.tree import path_upper_bound
from storage.types import UTCDateTime


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


RANGE_COLUMNS = (("k", Integer()), ("lo", String()), ("hi", String()))
ID_COLUMNS = (("k", Integer()), ("unit_id", Integer()))
# The parameter names of a bound slice's rows (`_scope_params` gives their values): per range
# row n scope_k_n, scope_lo_n, scope_hi_n; per unit-id row n scope_uk_n, scope_uid_n.
RANGE_PARAMS = ("scope_k", "scope_lo", "scope_hi")
ID_PARAMS = ("scope_uk", "scope_uid")


def _placeholders(
    name: str, columns: Sequence[tuple[str, Any]], params: Sequence[str], rows: int
) -> Any:
    """`_values` with every value a bound parameter (`params`, suffixed with the row number):
    the same text for every slice of that many rows."""
    names = [[f"{p}_{n}" for p in params] for n in range(rows)]
    body = ", ".join("(" + ", ".join(f":{p}" for p in row) + ")" for row in names)
    cols = ", ".join(f"v.column{i} AS {col}" for i, (col, _) in enumerate(columns, start=1))
    types = [type_ for _, type_ in columns]
    return (
        text(f"SELECT {cols} FROM (VALUES {body}) AS v")
        .bindparams(
            *(bindparam(p, type_=t) for row in names for p, t in zip(row, types, strict=True))
        )
        .columns(*(column(col, type_) for col, type_ in columns))
        .cte(name)
    )


def _scoped_units(
    ranges: list[tuple[int, str, str]], ids: list[tuple[int, int]], *, bound: bool = False
) -> tuple[FromClause, Any] | None:
    """A FROM ending in `unit`, one row per (scope, unit) counted, and its scope-key column.

    The (scope, unit) set is a MATERIALIZED CTE: each range is one scan of the path index, and
    the grouped query then reaches `unit` by primary key. Left to itself, SQLite's planner drives
    the join from the deadlines and scans units by level (13x slower)."""
    if not ranges and not ids:
        return None
    if bound and ranges:  # the rows' values are `_scope_params` (their count is the shape)
        range_cte = _placeholders("scope_range", RANGE_COLUMNS, RANGE_PARAMS, len(ranges))
    else:
        range_cte = _values("scope_range", RANGE_COLUMNS, ranges or [(-1, "", "")])
    unit = UNIT.alias("scope_unit")
    # Disjoint ranges per scope: each (scope, unit) once without DISTINCT.
    in_ranges = select(range_cte.c.k, unit.c.id.label("unit_id")).join(
        unit, and_(unit.c.path >= range_cte.c.lo, unit.c.path < range_cte.c.hi)
    )
    if ids:
        if bound:
            id_cte = _placeholders("scope_unit_id", ID_COLUMNS, ID_PARAMS, len(ids))
        else:
            id_cte = _values("scope_unit_id", ID_COLUMNS, ids)
        # UNION (not UNION ALL): a unit listed by id and inside a followed subtree counts once.
        member = union(in_ranges, select(id_cte.c.k, id_cte.c.unit_id)).cte("scope_member")
    else:
        member = in_ranges.cte("scope_member")
    member = member.prefix_with("MATERIALIZED")
    return member.join(UNIT, UNIT.c.id == member.c.unit_id), member.c.k


def _bound_scoped_units(ranges: int, ids: int, *, sqlite: bool) -> tuple[FromClause, Any] | None:
    """`_scoped_units` for a small slice, its `ranges` path ranges and `ids` unit ids bound
    parameters (`_scope_params` gives their values), so that the same statement serves every
    scope of that shape (built and compiled once, not once per person).

    On PostgreSQL each range is a select of its own: its custom plan then estimates each range
    from the path histogram (a range joined from a VALUES list is estimated at a fixed share of
    the tree, 2,222 units of 20,000, and the statement then hashes every table: 40 ms a
    statement for a supervisor of 8 units). On SQLite, which plans without statistics, the
    VALUES list stays (its placeholders bound): a union of range selects made it drive the
    figures from the deadlines again (27 ms instead of 3 at 20,000 units)."""
    if not ranges and not ids:
        return None
    if sqlite:
        return _scoped_units([(0, "", "")] * ranges, [(0, 0)] * ids, bound=True)
    unit = UNIT.alias("scope_unit")

    def key(name: str) -> Any:
        return bindparam(name, type_=Integer()).label("k")

    k, lo, hi = RANGE_PARAMS
    uk, uid = ID_PARAMS
    parts: list[Any] = [
        select(key(f"{k}_{n}"), unit.c.id.label("unit_id")).where(
            unit.c.path >= bindparam(f"{lo}_{n}", type_=String()),
            unit.c.path < bindparam(f"{hi}_{n}", type_=String()),
        )
        for n in range(ranges)
    ]
    parts += [
        select(key(f"{uk}_{n}"), unit.c.id.label("unit_id")).where(
            unit.c.id == bindparam(f"{uid}_{n}", type_=Integer())
        )
        for n in range(ids)
    ]
    # Disjoint ranges per scope: UNION ALL; a unit listed by id may also be in a range: UNION.
    if len(parts) == 1:
        member = parts[0].cte("scope_member")
    elif ids:
        member = union(*parts).cte("scope_member")
    else:
        member = union_all(*parts).cte("scope_member")
    member = member.prefix_with("MATERIALIZED")
    return member.join(UNIT, UNIT.c.id == member.c.unit_id), member.c.k


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _scope_params(
    ranges: Sequence[tuple[int, str, str]], ids: Sequence[tuple[int, int]]
) -> dict[str, Any]:
    """The values of `_bound_scoped_units(len(ranges), len(ids))`'s parameters."""
    params: dict[str, Any] = {}
    for names, rows in ((RANGE_PARAMS, ranges), (ID_PARAMS, ids)):
        for n, row in enumerate(rows):
            params.update({f"{p}_{n}": value for p, value in zip(names, row, strict=True)})
    return params


def kept_scoped(
    name: Hashable,
    scopes: Sequence[UnitScope],
    build: Callable[[FromClause, Any], Any],
    *,
    session: AsyncSession,
) -> tuple[Any, dict[str, Any]]:
    """`build(units FROM, scope-key column)` over one `scope_chunks` slice (the FROM ends in
    `unit`, one row per (scope, unit); the key is the index in `scopes`) and the parameters the
    statement takes for this slice; (None, {}) when no scope has a unit. A small slice (at most
    `SMALL_SCOPE` ranges and ids) gets the statement kept for `name` and its shape
    (`storage.figures.memo`), its scope rows as parameters: `name` must say everything else
    `build` depends on. A big one (the weekly pass) is built now with its rows inline. The
    statement's form depends on the engine of `session`, the one it will run in."""
    ranges, ids = _scope_rows(scopes)
    sqlite = _is_sqlite(session)
    if len(ranges) + len(ids) > SMALL_SCOPE:
        scoped = _scoped_units(ranges, ids)
        return (None if scoped is None else build(*scoped)), {}

    def built() -> Any:
        scoped = _bound_scoped_units(len(ranges), len(ids), sqlite=sqlite)
        return None if scoped is None else build(*scoped)

    stmt = STATEMENTS.get((name, "scope shape", sqlite, len(ranges), len(ids)), built)
    return stmt, ({} if stmt is None else _scope_params(ranges, ids))


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


def _figures_statement(ctx: CampaignContext, moments: int, scoped: tuple[FromClause, Any]) -> Any:
    """The grouped statement over these scoped units (`kept_scoped`), at `moments` as-of times
    at once: the moment n is the bound parameter `moment_param(n)` and each row says its
    `moment` (the arms of one UNION ALL share the scope CTEs, so the figures now and a week
    earlier are one round trip)."""
    aliases: dict[str, FromClause] = {}  # the owners' scope rows, one alias for all the arms
    arms = [
        _grouped(ctx, moment_param(n), scoped, aliases).add_columns(literal(n).label("moment"))
        for n in range(moments)
    ]
    return arms[0] if len(arms) == 1 else union_all(*arms)


def moment_param(n: int) -> BindParameter[datetime]:
    """The placeholder of the n-th moment of a figures statement (the first is `AS_OF`)."""
    return as_of_param() if n == 0 else bindparam(moment_name(n), type_=UTCDateTime())


def moment_name(n: int) -> str:
    return AS_OF if n == 0 else f"{AS_OF}_{n}"


def _grouped(
    ctx: CampaignContext,
    as_of: AsOf,
    scoped: tuple[FromClause, Any],
    aliases: dict[str, FromClause],
) -> Any:
    """One moment's grouped select over the scoped units of `_scoped_units` (`aliases`: the
    owners' aliases of the scope rows, by name, shared by every arm of the statement)."""
    units, scope_key = scoped
    member = scope_key.table
    listed = member

    owner_rows: dict[str, tuple[FromClause, FromClause]] = {}

    def in_scope(owner: FromClause) -> Any:
        """The owner is counted in the same scope (its own row of the scope's units): the
        scope's row for the owner, outer-joined on (scope, unit), which is unique (a hash join
        on PostgreSQL, an automatic index on SQLite). Not a (scope, unit) IN over the CTE:
        PostgreSQL hashes that only when the estimated CTE fits work_mem, and otherwise
        rescans it per row (minutes for 2,000 supervisors); nor a correlated EXISTS (the same
        rescan)."""
        counted = owner_scope(as_of=as_of, scope_path=ctx.scope_path)(owner)
        name = str(getattr(owner, "name", "owner"))
        if name not in owner_rows:
            if name not in aliases:
                aliases[name] = listed.alias(f"{name}_member")
            owner_rows[name] = (owner, aliases[name])
        row = owner_rows[name][1]
        return and_(counted, row.c.unit_id.is_not(None))

    cover = cover_columns(ctx.separate_levels, ctx.chained_levels, ctx.max_depth, in_scope)
    selected, grouped = with_cover(
        [
            scope_key.label("scope_key"),
            DEADLINE.c.deliverable_id,
            UNIT.c.level_code,
            *figure_columns(ctx),
        ],
        cover,
    )
    joined = cover.joined(units)
    for owner, row in owner_rows.values():
        joined = joined.outerjoin(row, and_(row.c.k == scope_key, row.c.unit_id == owner.c.id))
    return expected_rows(
        ctx, selected, as_of=as_of, root_path=None, unit_filter=None, units=joined
    ).group_by(scope_key, DEADLINE.c.deliverable_id, UNIT.c.level_code, *grouped)


async def _many_as_of(
    session: AsyncSession,
    ctx: CampaignContext,
    moments: Sequence[datetime],
    scopes: Sequence[UnitScope],
    chunk: int,
) -> list[list[Tally]]:
    """For each moment, one tally per scope: one grouped statement per chunk of scopes, for all
    the moments on PostgreSQL, for each moment on SQLite (a small chunk's statement is kept,
    `storage.figures.memo`, and run again with the new moments).

    SQLite plans the second arm of a UNION ALL from the deadlines (every unit of each level,
    then a probe of the scope rows) instead of from the scope rows: on a 20,000-unit tree that
    arm took 30 ms for a supervisor of one unit, against 5 ms for the same select alone. So on
    SQLite each moment is a statement of its own, the same kept one-moment statement run with
    the other moment; PostgreSQL plans both arms from the scope and saves a round trip."""
    keys = {d.id: d.key for d in ctx.deliverables}
    tallies = [[Tally() for _ in scopes] for _ in moments]
    together = 1 if _is_sqlite(session) else len(moments)
    groups = [moments[at : at + together] for at in range(0, len(moments), together)]
    for start, stop in _chunks(scopes, chunk):
        stmt, scope_params = kept_scoped(
            ("figures", together, context_key(ctx)),
            scopes[start:stop],
            lambda units, key: _figures_statement(ctx, together, (units, key)),
            session=session,
        )
        if stmt is None:
            continue
        for first, group in zip(range(0, len(moments), together), groups, strict=True):
            params = {moment_name(n): moment for n, moment in enumerate(group)}
            params.update(scope_params)
            for row in (await session.execute(stmt, params)).all():
                tallies[first + row.moment][start + row.scope_key].add(
                    row, keys[row.deliverable_id], ctx.chained_levels
                )
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
    ctx = await context_or_load(session, campaign_id, context)
    keys = list(scopes)
    units = [UnitScope.of(scopes[k]) for k in keys]

    moments = [as_of, as_of - WEEK] if with_previous else [as_of]
    counted = await _many_as_of(session, ctx, moments, units, max(1, chunk))

    async def at(tallies: list[Tally]) -> list[tuple[Tally, dict[str, int]]]:
        chosen = [carriers_counted(ctx, t.carried, MEASURES) for t in tallies]
        missing = sorted({m for c in chosen for m in uncarried(c, MEASURES)})
        wide = await carriers_campaign_wide(ctx, missing, session=session)
        for carriers in chosen:
            for m in uncarried(carriers, MEASURES):
                if m in wide:
                    carriers[m] = wide[m]
        return list(zip(tallies, chosen, strict=True))

    now = await at(counted[0])
    before = await at(counted[1]) if with_previous else [None] * len(keys)
    result: dict[K, Figures] = {}
    for key, (tally, carriers), earlier in zip(keys, now, before, strict=True):
        previous = (
            figures_from_tally(
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
        result[key] = figures_from_tally(
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
