"""No member counted twice: the one rule every pooled figure follows.

A campaign declares its reporting groups ("cấp tỉnh và cấp huyện" = tinh + huyen, "cấp cơ sở" =
co_so). A unit at a level in some group *reports separately*; a unit at any other level (a cell
under a grassroots committee, `chi_bo`) does not: its members are part of the members on record
of its nearest ancestor that reports separately (its *owner*), and so is what it reports.

So a pooled figure (a group, several levels, the total) that counts an owner never adds the
units it covers: for each expected unit that does not report separately, the SQL below gives the
level of its owner when that owner is itself counted in the same scope (active at `as_of`, inside
the campaign's scope and the viewer's). `Figures.group` subtracts those units from every pool
that contains the owner's level and whose deliverable the owner's level owes. Units that report
separately never overlap one another (by the definition above their members exclude each other),
and a level's own row counts its units as they are. With no group declared every level reports
separately and nothing is subtracted.

The rule is the members' (and what is summed with them: attendance, essays, heads with a plan).
Unit counts, `GroupFigures.units`, count every expected unit, a cell and its committee both,
since both must report; they are the units the digests' late and overdue lists, the shortcomings,
the report paragraph and the workbook's rows name and count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
)
from sqlalchemy.sql.util import ClauseAdapter

from storage.figures.values import UNIT
from storage.tree import SEGMENT, in_subtree

COVER = "cover_level"


def owner_scope(
    *,
    as_of: Any,
    scope_path: str | None,
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
) -> Callable[[FromClause], ColumnElement[bool]]:
    """The scope condition of `storage.figures.query.scope_condition`, applied to the owner."""

    def condition(owner: FromClause) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = [
            or_(owner.c.active.is_(True), owner.c.deactivated_at > as_of)
        ]
        if scope_path:
            parts.append(in_subtree(owner.c.path, scope_path))
        if root_path:
            parts.append(in_subtree(owner.c.path, root_path))
        if unit_filter is not None:
            parts.append(ClauseAdapter(owner).traverse(unit_filter))
        return and_(*parts)

    return condition


@dataclass(frozen=True)
class Cover:
    """The cover columns of a figure statement and the ancestor joins they read."""

    columns: list[ColumnElement[Any]]
    ancestors: tuple[FromClause, ...] = ()

    def joined(self, units: FromClause) -> FromClause:
        """`units` (ending in `unit`) with each ancestor outer-joined by its path prefix: an
        equality on the unique path, so one hash join each (PostgreSQL) or one index probe
        (SQLite), instead of correlated subqueries evaluated once per expected row."""
        for k, ancestor in enumerate(self.ancestors):
            prefix = func.substr(UNIT.c.path, 1, SEGMENT * (k + 1))
            units = units.outerjoin(ancestor, ancestor.c.path == prefix)
        return units


def cover_columns(
    separate: frozenset[str],
    chained: Sequence[str],
    max_depth: int,
    in_scope: Callable[[FromClause], ColumnElement[bool]],
) -> Cover:
    """SQL, per row of `unit` (no columns when nothing can overlap: no group declared, a flat
    tree):

    - `cover_level`: the level of the unit's owner when the unit does not report separately and
      its owner is counted (`in_scope`), '' when the owner is not counted, NULL otherwise;
    - `cover_<level>` for each level in `chained` that does not report separately: 1 when an
      ancestor at that level between the unit and its owner is counted (its record holds the
      unit's members too: cells under cells).

    Ancestors are the units at the unit's path prefixes (`Cover.joined`): `ancestor_k` is the
    unit at depth k above it, or the unit itself when it is not that deep."""
    if not separate or max_depth <= 0:
        return Cover([])
    groups = sorted(separate)
    ancestors = tuple(UNIT.alias(f"ancestor_{k}") for k in range(max_depth))
    deepest_first = ancestors[::-1]
    own_group = UNIT.c.level_code.in_(groups)

    def separate_(a: FromClause) -> ColumnElement[bool]:
        return a.c.level_code.in_(groups)

    # The owner: the deepest ancestor that reports separately (the unit itself never is one
    # here: a unit that reports separately has no cover).
    counted = case(
        *(
            (separate_(a), case((in_scope(a), a.c.level_code), else_=literal("")))
            for a in deepest_first
        ),
        else_=None,
    )
    columns: list[ColumnElement[Any]] = [case((own_group, None), else_=counted).label(COVER)]
    owner_depth = case(*((separate_(a), a.c.depth) for a in deepest_first), else_=-1)
    for index, level in enumerate(chained):
        found = or_(
            *(
                and_(
                    a.c.path != UNIT.c.path,
                    a.c.level_code == level,
                    a.c.depth > owner_depth,
                    in_scope(a),
                )
                for a in ancestors
            )
        )
        columns.append(case((own_group, 0), (found, 1), else_=0).label(f"{COVER}_{index}"))
    return Cover(columns, ancestors)


def with_cover(columns: list[Any], cover: Cover) -> tuple[list[Any], list[Any]]:
    """(select columns, extra GROUP BY terms): the cover columns grouped by their names, so the
    expressions are not evaluated twice."""
    return [*columns, *cover.columns], [literal_column(c.name) for c in cover.columns]


def covers_of(row: Any, chained: Sequence[str]) -> frozenset[str]:
    """The levels whose counted units already hold this row's units (see `cover_columns`)."""
    found = {str(getattr(row, COVER, None) or "")} - {""}
    found |= {level for i, level in enumerate(chained) if getattr(row, f"{COVER}_{i}", 0)}
    return frozenset(found)
