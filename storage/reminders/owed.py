"""What units still owe in a campaign (one set-based query) and who holds the roles to be told."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.assignments import holders_query
from storage.campaign_status import open_campaigns
from storage.i18n import pick_language
from storage.i18n.formatting import name_in
from storage.models import (
    ROLE_REPORTER,
    Campaign,
    ChatIdentity,
    Deliverable,
    DeliverableDeadline,
    Person,
    Report,
    Role,
    Unit,
)
from storage.tree import in_subtree

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Owed:
    unit_id: int
    unit_code: str
    unit_name: str
    unit_path: str
    deliverable_id: int
    name_vi: str
    name_en: str
    position: int
    due_date: date

    def label(self, lang: str) -> str:
        return name_in(self, lang)


async def _scope_path(session: AsyncSession, campaign: Campaign) -> str | None:
    if campaign.scope_unit_id is None:
        return None
    path = await session.scalar(
        select(col(Unit.path)).where(col(Unit.id) == campaign.scope_unit_id)
    )
    return path if path is not None else "~"  # a vanished scope unit matches nothing


def _owed_select(columns: Sequence[Any], campaign_id: int, scope_path: str | None) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(DeliverableDeadline)
        .join(Deliverable, col(Deliverable.id) == col(DeliverableDeadline.deliverable_id))
        .join(Unit, col(Unit.level_code) == col(DeliverableDeadline.level_code))
        .where(
            col(Deliverable.campaign_id) == campaign_id,
            col(Unit.active).is_(True),
            ~exists().where(
                col(Report.deliverable_id) == col(Deliverable.id),
                col(Report.unit_id) == col(Unit.id),
            ),
        )
    )
    if scope_path is not None:
        query = query.where(in_subtree(col(Unit.path), scope_path))
    return query


_OWED_COLUMNS = (
    col(Unit.id),
    col(Unit.code),
    col(Unit.name),
    col(Unit.path),
    col(Deliverable.id),
    col(Deliverable.name_vi),
    col(Deliverable.name_en),
    col(Deliverable.position),
    col(DeliverableDeadline.due_date),
)


async def owed(
    *,
    session: AsyncSession,
    campaign: Campaign,
    unit_ids: Collection[int] | None = None,
    due_on: Collection[date] | None = None,
    due_until: date | None = None,
    due_before: date | None = None,
) -> list[Owed]:
    """What units still owe in `campaign` (set-based: one query), optionally only for some units,
    deadlines on some dates, up to a date (inclusive) or before a date (exclusive)."""
    assert campaign.id is not None
    scope = await _scope_path(session, campaign)
    query = _owed_select(_OWED_COLUMNS, campaign.id, scope)
    if due_on is not None:
        query = query.where(col(DeliverableDeadline.due_date).in_(list(due_on)))
    if due_until is not None:
        query = query.where(col(DeliverableDeadline.due_date) <= due_until)
    if due_before is not None:
        query = query.where(col(DeliverableDeadline.due_date) < due_before)
    query = query.order_by(
        col(Unit.path), col(DeliverableDeadline.due_date), col(Deliverable.position)
    )
    if unit_ids is None:
        return [Owed(*row) for row in (await session.execute(query)).all()]
    ids = list(unit_ids)
    found: list[Owed] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = query.where(col(Unit.id).in_(ids[start : start + _CHUNK]))
        found.extend(Owed(*row) for row in (await session.execute(chunk)).all())
    return found


async def triggered_units(
    session: AsyncSession, campaign: Campaign, due_on: Collection[date]
) -> list[int]:
    assert campaign.id is not None
    scope = await _scope_path(session, campaign)
    query = _owed_select([col(Unit.id)], campaign.id, scope).where(
        col(DeliverableDeadline.due_date).in_(list(due_on))
    )
    return sorted(set((await session.execute(query.distinct())).scalars().all()))


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    unit_id: int | None
    kind: str
    full_name: str
    lang: str


async def role_holders(
    session: AsyncSession, kinds: Collection[str], unit_ids: Collection[int], *, global_too: bool
) -> list[Recipient]:
    """Holders of roles of `kinds` on `unit_ids` (and on the whole tree when `global_too`)."""
    base = (
        select(
            col(Role.person_id),
            col(Role.unit_id),
            col(Role.kind),
            col(Person.full_name),
            col(Person.language),
        )
        .join(Person, col(Person.id) == col(Role.person_id))
        .where(col(Role.kind).in_(list(kinds)), col(Person.forgotten_at).is_(None))
    )
    rows: list[Any] = []
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = base.where(col(Role.unit_id).in_(ids[start : start + _CHUNK]))
        rows.extend((await session.execute(chunk)).all())
    if global_too:
        rows.extend((await session.execute(base.where(col(Role.unit_id).is_(None)))).all())
    return [
        Recipient(pid, uid, kind, name, pick_language(language))
        for pid, uid, kind, name, language in rows
    ]


async def open_campaigns_for_unit(*, session: AsyncSession, unit: Unit) -> list[Campaign]:
    """Open campaigns whose scope contains `unit` (see `storage.campaign_status`)."""
    return await open_campaigns(session=session, unit=unit)


@dataclass(frozen=True, slots=True)
class Contact:
    """A unit's reporter as a calling list shows them: name, phone, whether a chat account is
    connected (a reminder reaches only those)."""

    person_id: int
    full_name: str
    phone: str | None
    connected: bool


async def reporter_contacts(*, session: AsyncSession, unit_id: int) -> list[Contact]:
    """The reporters of `unit_id` with their phone and whether they have a chat account."""
    connected = exists().where(col(ChatIdentity.person_id) == col(Person.id)).correlate(Person)
    columns = (col(Person.id), col(Person.full_name), col(Person.phone), connected)
    rows = await session.execute(holders_query(ROLE_REPORTER, unit_id, *columns))
    return [Contact(int(pid or 0), name, phone, bool(linked)) for pid, name, phone, linked in rows]


async def chat_reach(
    *, session: AsyncSession, person_ids: Collection[int]
) -> dict[int, tuple[bool, str | None]]:
    """person id -> (has a chat account, phone): who a message can reach, who must be called."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    connected = exists().where(col(ChatIdentity.person_id) == col(Person.id)).correlate(Person)
    found: dict[int, tuple[bool, str | None]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(col(Person.id), connected, col(Person.phone)).where(
                col(Person.id).in_(ids[start : start + _CHUNK])
            )
        )
        found.update({int(pid or 0): (bool(linked), phone) for pid, linked, phone in rows})
    return found
