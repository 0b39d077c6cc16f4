"""Read-only lookups behind the web console's pages, each one set-based (one statement for the
whole page, never one per unit): the units a scope starts from, a unit's children and ancestors,
a unit's report versions, the reporters of many units, who has joined."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.access import Scope, visible_units_condition
from storage.assignments import holders_query
from storage.models import (
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    ChatIdentity,
    Person,
    Report,
    ReportVersion,
    Role,
    Unit,
)
from storage.tree import in_subtree, path_ids


async def root_units(
    *, session: AsyncSession, scope: Scope, active_only: bool = True
) -> list[Unit]:
    """Where the person's tree starts: the top of the tree for a whole-tree admin, else the
    units at the top of their admin subtrees and followed units, and their own reporter units
    that lie outside those (tree order). With `active_only=False` (inactive ones too) their
    scopes partition everything the person sees."""
    active = col(Unit.active) == true() if active_only else true()
    if scope.whole_tree:
        query = select(Unit).where(col(Unit.parent_id).is_(None), active)
    else:
        roots = scope.subtree_roots
        inside = [in_subtree(col(Unit.path), root) for root in roots]
        conditions: list[ColumnElement[bool]] = [col(Unit.path).in_(roots)] if roots else []
        if scope.reporter_unit_ids:
            own = col(Unit.id).in_(scope.reporter_unit_ids)
            conditions.append(and_(own, ~or_(*inside)) if inside else own)
        if not conditions:
            return []
        query = select(Unit).where(or_(*conditions), active)
    return list((await session.execute(query.order_by(col(Unit.path)))).scalars())


async def child_units(
    *, session: AsyncSession, scope: Scope, unit: Unit, active_only: bool = True
) -> list[Unit]:
    """The unit's children the scope sees, active only unless `active_only=False` (a reporter's
    own unit shows no children)."""
    query = (
        select(Unit)
        .where(
            col(Unit.parent_id) == unit.id,
            col(Unit.active) == true() if active_only else true(),
            visible_units_condition(scope),
        )
        .order_by(col(Unit.path))
    )
    return list((await session.execute(query)).scalars())


async def visible_ancestors(*, session: AsyncSession, scope: Scope, unit: Unit) -> list[Unit]:
    """The unit's ancestors the scope sees, from the top (the breadcrumb)."""
    ids = path_ids(unit.path)[:-1]
    if not ids:
        return []
    query = select(Unit).where(col(Unit.id).in_(ids)).order_by(col(Unit.path))
    return [u for u in (await session.execute(query)).scalars() if scope.sees(u)]


async def unit_versions(
    *, session: AsyncSession, unit_id: int, campaign_id: int
) -> dict[int, list[ReportVersion]]:
    """deliverable id -> every version of the unit's report for it, oldest first."""
    query = (
        select(col(Report.deliverable_id), ReportVersion)
        .join(Report, col(Report.id) == col(ReportVersion.report_id))
        .where(col(Report.unit_id) == unit_id, col(Report.campaign_id) == campaign_id)
        .order_by(col(Report.deliverable_id), col(ReportVersion.version))
    )
    result: dict[int, list[ReportVersion]] = defaultdict(list)
    for deliverable_id, version in (await session.execute(query)).all():
        result[int(deliverable_id)].append(version)
    return result


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str | None


async def reporters_of(
    *, session: AsyncSession, unit_ids: Sequence[int]
) -> dict[int, list[Contact]]:
    """unit id -> the reporters (secretaries) of that unit, with their phones, one query."""
    if not unit_ids:
        return {}
    query = (
        select(col(Role.unit_id), col(Person.full_name), col(Person.phone))
        .join(Person, col(Person.id) == col(Role.person_id))
        .where(
            col(Role.kind) == ROLE_REPORTER,
            col(Role.unit_id).in_(list(unit_ids)),
            col(Person.forgotten_at).is_(None),
        )
        .order_by(col(Role.unit_id), col(Person.full_name))
    )
    result: dict[int, list[Contact]] = defaultdict(list)
    for unit_id, name, phone in (await session.execute(query)).all():
        if unit_id is not None:
            result[int(unit_id)].append(Contact(name, phone))
    return result


@dataclass(frozen=True)
class JoinStatus:
    units: int
    joined: int
    not_joined: list[Unit]


def _connected_reporter(unit_id: object) -> ColumnElement[bool]:
    return exists().where(
        col(Role.unit_id) == unit_id,
        col(Role.kind) == ROLE_REPORTER,
        col(ChatIdentity.person_id) == col(Role.person_id),
        col(Person.id) == col(Role.person_id),
        col(Person.forgotten_at).is_(None),
    )


async def join_status(*, session: AsyncSession, scope: Scope, limit: int = 500) -> JoinStatus:
    """How many active units in scope have a reporter connected on some chat channel, and (up to
    `limit`) those that have none, in tree order."""
    visible = and_(col(Unit.active) == true(), visible_units_condition(scope))
    connected = _connected_reporter(col(Unit.id))
    units, joined = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(case((connected, 1), else_=0)), 0))
            .select_from(Unit)
            .where(visible)
        )
    ).one()
    missing = (
        await session.execute(
            select(Unit).where(visible, ~connected).order_by(col(Unit.path)).limit(limit)
        )
    ).scalars()
    return JoinStatus(int(units), int(joined), list(missing))


async def units_for_invites(
    *, session: AsyncSession, scope: Scope, level: str | None, root: Unit | None
) -> list[Unit]:
    """Active units the scope sees, optionally one level only and under `root`, tree order."""
    query = select(Unit).where(col(Unit.active) == true(), visible_units_condition(scope))
    if level:
        query = query.where(col(Unit.level_code) == level)
    if root is not None:
        query = query.where(in_subtree(col(Unit.path), root.path))
    return list((await session.execute(query.order_by(col(Unit.path)))).scalars())


async def supervisors_of(*, session: AsyncSession, unit_id: int) -> list[tuple[int, Contact]]:
    """(person id, contact) of everyone who follows this very unit, by name."""
    columns = (col(Person.id), col(Person.full_name), col(Person.phone))
    query = holders_query(ROLE_SUPERVISOR, unit_id, *columns)
    return [
        (int(pid), Contact(name, phone))
        for pid, name, phone in (await session.execute(query)).all()
        if pid is not None
    ]
