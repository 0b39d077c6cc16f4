"""Lookups behind the admin commands and the digests: people an admin may act on, the units a
supervisor follows, units by id, who gets a weekly digest."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.access import Scope, visible_units_condition
from storage.models import ROLE_ADMIN, ROLE_SUPERVISOR, Person, Role, Unit


async def person_in_scope(*, session: AsyncSession, person_id: int, scope: Scope) -> Person | None:
    """The person (not forgotten) if `scope` reaches them: any person for the whole tree,
    otherwise a person holding at least one role on a unit the scope sees."""
    person = await session.get(Person, person_id)
    if person is None or person.forgotten_at is not None:
        return None
    if scope.whole_tree:
        return person
    reachable = exists().where(
        col(Role.person_id) == person_id,
        col(Role.unit_id) == col(Unit.id),
        visible_units_condition(scope),
    )
    found = (await session.execute(select(reachable))).scalar_one()
    return person if found else None


async def followed_units(*, session: AsyncSession, person_id: int) -> list[Unit]:
    """The units the person follows as a supervisor, in tree order."""
    query = (
        select(Unit)
        .join(Role, col(Role.unit_id) == col(Unit.id))
        .where(col(Role.person_id) == person_id, col(Role.kind) == ROLE_SUPERVISOR)
        .order_by(col(Unit.path))
    )
    return list((await session.execute(query)).scalars())


async def units_by_ids(*, session: AsyncSession, unit_ids: Sequence[int]) -> list[Unit]:
    """These units in tree order (unknown ids are skipped)."""
    if not unit_ids:
        return []
    query = select(Unit).where(col(Unit.id).in_(list(unit_ids))).order_by(col(Unit.path))
    return list((await session.execute(query)).scalars())


async def digest_recipients(*, session: AsyncSession) -> list[Person]:
    """Everyone with a supervisor or admin role (once each), not forgotten, in id order."""
    has_role = (
        select(col(Role.person_id))
        .where(col(Role.kind).in_([ROLE_SUPERVISOR, ROLE_ADMIN]))
        .distinct()
    )
    result = await session.execute(
        select(Person)
        .where(col(Person.id).in_(has_role), col(Person.forgotten_at).is_(None))
        .order_by(col(Person.id))
    )
    return list(result.scalars().all())
