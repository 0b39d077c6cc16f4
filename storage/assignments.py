"""Lookups behind the admin commands and the digests: people an admin may act on, the units a
supervisor follows, units by id, who gets a weekly digest."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.access import Scope, person_to_act_on
from storage.models import ROLE_ADMIN, ROLE_SUPERVISOR, Person, Role, Unit


async def person_in_scope(*, session: AsyncSession, person_id: int, scope: Scope) -> Person | None:
    """The person (not forgotten) if `scope` may act on them: every one of their roles lies
    inside the scope's admin subtrees (`storage.access.may_act_on`, the one rule; one role
    inside is not enough, or a subtree admin could take over a wider account)."""
    return await person_to_act_on(session=session, person_id=person_id, scope=scope)


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
