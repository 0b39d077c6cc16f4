"""A supervisor's choice of the weekdays they take escalation lists on (`/nhacnho caidat`);
without a choice, the campaign's `escalation_weekdays` apply."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Person

# The choices offered, in the order they are numbered; None = the campaign's days.
CHOICES: tuple[tuple[int, ...] | None, ...] = ((0, 3), (0,), (1, 4), (4,), None)


def encode(days: Collection[int] | None) -> str | None:
    return None if days is None else ",".join(str(d) for d in sorted(set(days)))


def decode(value: str | None) -> frozenset[int] | None:
    if not value:
        return None
    days = frozenset(int(part) for part in value.split(",") if part.isdigit())
    return frozenset(d for d in days if 0 <= d <= 6) or None


async def escalation_days(
    *, session: AsyncSession, person_ids: Collection[int]
) -> dict[int, frozenset[int]]:
    """The people among `person_ids` who chose their days, with those days."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(col(Person.id), col(Person.escalation_weekdays)).where(
            col(Person.id).in_(ids), col(Person.escalation_weekdays).is_not(None)
        )
    )
    found: dict[int, frozenset[int]] = {}
    for person_id, value in rows.all():
        days = decode(value)
        if person_id is not None and days is not None:
            found[int(person_id)] = days
    return found


async def set_escalation_days(
    *, session: AsyncSession, person_id: int, days: Collection[int] | None
) -> None:
    person = await session.get(Person, person_id)
    if person is not None:
        person.escalation_weekdays = encode(days)
