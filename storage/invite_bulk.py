"""Bulk invites for the printable sheet: one invite per unit, bound to the imported person.

`cadrebot people import` has already created the unit's people with their roles. Each of them
who has not joined yet (no chat account on any channel) gets an invite that names them, so
joining binds the chat account to that person: no duplicate person, and the greeting uses the
imported name ("Lê Văn Hải"), not the chat app's first/last order ("Hải Lê Văn"). A unit with
several such people gets one invite each; a unit with nobody imported for the role gets one
invite that names nobody (whoever joins with it becomes a new person with the role). People
who already joined get no new invite: a printed code that could move an account in use would
be a takeover on paper (`storage.rebind`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.invites import InviteOptions, create_invites_for_units
from storage.models import ChatIdentity, Person, Role, Unit

CHUNK = 500


@dataclass(frozen=True)
class BulkInvite:
    unit: Unit
    person_id: int | None
    person_name: str | None  # the imported name; None: nobody imported for the role
    code: str


@dataclass(frozen=True)
class BulkResult:
    invites: list[BulkInvite]
    joined: int  # people of these units with the role who already have a chat account


async def _holders(
    session: AsyncSession, role_kind: str, unit_ids: Sequence[int]
) -> dict[int, list[tuple[int, str, bool]]]:
    """Per unit: (person id, name, has joined) of the people holding `role_kind` on it."""
    joined = exists().where(col(ChatIdentity.person_id) == col(Person.id))
    found: dict[int, list[tuple[int, str, bool]]] = {}
    for start in range(0, len(unit_ids), CHUNK):
        rows = await session.execute(
            select(col(Role.unit_id), col(Person.id), col(Person.full_name), joined)
            .join(Person, col(Person.id) == col(Role.person_id))
            .where(
                col(Role.kind) == role_kind,
                col(Role.unit_id).in_(unit_ids[start : start + CHUNK]),
                col(Person.forgotten_at).is_(None),
            )
            .order_by(col(Role.unit_id), col(Person.full_name), col(Person.id))
        )
        for unit_id, person_id, name, has_joined in rows:
            if unit_id is not None and person_id is not None:
                found.setdefault(unit_id, []).append((person_id, name, bool(has_joined)))
    return found


async def create_unit_invites(
    *,
    session: AsyncSession,
    role_kind: str,
    units: Sequence[Unit],
    now: datetime,
    **options: Unpack[InviteOptions],
) -> BulkResult:
    """Invites for these units (in their order), bound as the module docstring says; `options`
    as `create_invites_for_units` takes them."""
    holders = await _holders(session, role_kind, [u.id for u in units if u.id is not None])
    targets: list[tuple[Unit, int | None, str | None]] = []
    joined = 0
    for unit in units:
        people = holders.get(unit.id or 0, [])
        waiting = [(pid, name) for pid, name, has_joined in people if not has_joined]
        joined += len(people) - len(waiting)
        if waiting:
            targets.extend((unit, pid, name) for pid, name in waiting)
        elif not people:
            targets.append((unit, None, None))
    pairs = await create_invites_for_units(
        session=session,
        role_kind=role_kind,
        units=[unit for unit, _, _ in targets],
        now=now,
        person_ids=[pid for _, pid, _ in targets],
        **options,
    )
    invites = [
        BulkInvite(unit=unit, person_id=pid, person_name=name, code=code)
        for (unit, pid, name), (_, code) in zip(targets, pairs, strict=True)
    ]
    return BulkResult(invites=invites, joined=joined)
