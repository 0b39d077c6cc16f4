"""Lookups behind the admin commands and the digests: people an admin may act on, the units a
supervisor follows (and setting them from a picked set), the holders of a role on a unit, units
by id, who gets a weekly digest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.access import (
    Scope,
    TargetRole,
    may_act_on,
    person_to_act_on,
    visible_units_condition,
)
from storage.models import ROLE_ADMIN, ROLE_SUPERVISOR, Person, Role, Unit
from storage.people import set_role

# Ids per IN list (below the drivers' bind-parameter limits).
CHUNK = 5_000


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


async def supervisors_to_pick(
    *, session: AsyncSession, scope: Scope, limit: int = 200
) -> list[Person]:
    """People who follow some unit inside `scope` (pass an admin scope) and whom `scope` may act
    on (`may_act_on`: every role of theirs inside it), by name; at most `limit`."""
    following = (
        select(col(Role.person_id))
        .join(Unit, col(Unit.id) == col(Role.unit_id))
        .where(col(Role.kind) == ROLE_SUPERVISOR, visible_units_condition(scope))
    )
    people = list(
        (
            await session.execute(
                select(Person)
                .where(col(Person.id).in_(following), col(Person.forgotten_at).is_(None))
                .order_by(col(Person.full_name), col(Person.id))
            )
        ).scalars()
    )
    roles: dict[int, list[TargetRole]] = {}
    ids = [p.id for p in people if p.id is not None]
    for start in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(col(Role.person_id), col(Role.kind), col(Role.unit_id), col(Unit.path))
            .outerjoin(Unit, col(Unit.id) == col(Role.unit_id))
            .where(col(Role.person_id).in_(ids[start : start + CHUNK]))
        )
        for person_id, kind, unit_id, path in rows:
            roles.setdefault(person_id, []).append((kind, unit_id, path))
    kept = [p for p in people if p.id is not None and may_act_on(scope, roles.get(p.id, ()))]
    return kept[:limit]


@dataclass(frozen=True)
class FollowChange:
    added: int
    removed: int


async def set_followed_units(
    *,
    session: AsyncSession,
    person_id: int,
    wanted: Iterable[int],
    shown: Iterable[int],
    now: datetime,
    actor_person_id: int,
    channel: str,
) -> FollowChange:
    """Among the units `shown` to the admin, the person follows exactly `wanted` afterwards
    (units outside `shown` keep their state): the missing roles granted and the unticked ones
    revoked through `storage.people` (each audited), in the caller's transaction. The caller
    has checked the person and every unit against its scope."""
    want = set(wanted)
    among = set(shown) | want
    current = {
        u.id
        for u in await followed_units(session=session, person_id=person_id)
        if u.id is not None and u.id in among
    }
    added, gone = sorted(want - current), sorted(current - want)
    for held, unit_ids in ((True, added), (False, gone)):
        for unit_id in unit_ids:
            await set_role(
                session=session,
                person_id=person_id,
                kind=ROLE_SUPERVISOR,
                unit_id=unit_id,
                held=held,
                now=now,
                actor_person_id=actor_person_id,
                channel=channel,
            )
    return FollowChange(added=len(added), removed=len(gone))


def holders_query(kind: str, unit_id: int, *columns: Any) -> Select[Any]:
    """A query of `columns` (of Person) for the current people holding a `kind` role on this very
    unit (not its subtree), by name."""
    return (
        select(*columns)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(
            col(Role.kind) == kind,
            col(Role.unit_id) == unit_id,
            col(Person.forgotten_at).is_(None),
        )
        .order_by(col(Person.full_name), col(Person.id))
    )


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
