"""Everything one chat turn reads before its handler runs, in one statement.

    was this update processed before (and its stored replies)? · the person behind the chat
    account, with the account's row · their roles with each role's unit · their draft with its
    deliverable and campaign

One row per role (one row for a stranger or a person without roles), built once and kept
compiled (the statement binds only the channel, the update id and the account). The person, the
account, the units and the draft come back as session objects, as `find_person_with_identity`,
`scope_of`, `reporter_units` and `reports.open_draft` return them (the same rule: a forgotten
person is nobody; roles read as the database has them now, never cached). Functions never
commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, false, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from storage.delivery_marks import Mark
from storage.json_text import decoded
from storage.models import (
    ROLE_REPORTER,
    Campaign,
    ChatIdentity,
    Deliverable,
    Draft,
    Person,
    ProcessedUpdate,
    Role,
    Unit,
)
from storage.updates import record_cte, record_params

LoadedDraft = tuple[Draft, Deliverable | None, Campaign | None]


@dataclass(frozen=True)
class Preloaded:
    """What the conversation engine would read first, read with the turn in the same
    transaction: the active units the person reports for (by name) and their draft."""

    units: tuple[Unit, ...]
    draft: LoadedDraft | None


@dataclass
class TurnRead:
    seen: bool  # the update was processed before: a replay
    replies: list[dict[str, Any]] = field(default_factory=list)  # stored with it (seen only)
    person: Person | None = None
    identity: ChatIdentity | None = None
    roles: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)  # active units reported for, by name
    draft: LoadedDraft | None = None


# Loaded as text and decoded through `storage.json_text.decoded`.
_JSON_DEFERRED: tuple[Any, ...] = (Deliverable.form, Campaign.definition)

_THIS = select(literal_column("1").label("one")).subquery("this")


def _statement(claimed: bool) -> Any:
    seen = and_(
        col(ProcessedUpdate.channel) == bindparam("channel"),
        col(ProcessedUpdate.update_id) == bindparam("update_id"),
    )
    # Claimed in this transaction (PostgreSQL): the row is this turn's own, nothing to ask.
    return (
        select(
            col(ProcessedUpdate.update_id),
            col(ProcessedUpdate.replies),
            Person,
            ChatIdentity,
            col(Role.kind),
            col(Role.unit_id),
            Unit,
            Draft,
            Deliverable,
            Campaign,
            cast(col(Deliverable.form), String),
            cast(col(Campaign.definition), String),
        )
        .options(*(defer(column) for column in _JSON_DEFERRED))
        .select_from(_THIS)
        .outerjoin(ProcessedUpdate, false() if claimed else seen)
        .outerjoin(
            ChatIdentity,
            and_(
                col(ChatIdentity.channel) == bindparam("channel"),
                col(ChatIdentity.external_id) == bindparam("external_id"),
            ),
        )
        .outerjoin(
            Person,
            and_(col(Person.id) == col(ChatIdentity.person_id), col(Person.forgotten_at).is_(None)),
        )
        .outerjoin(Role, col(Role.person_id) == col(Person.id))
        .outerjoin(Unit, col(Unit.id) == col(Role.unit_id))
        .outerjoin(Draft, col(Draft.person_id) == col(Person.id))
        .outerjoin(Deliverable, col(Deliverable.id) == col(Draft.deliverable_id))
        .outerjoin(Campaign, col(Campaign.id) == col(Deliverable.campaign_id))
    )


_STATEMENTS = {claimed: _statement(claimed) for claimed in (False, True)}


async def read_turn(
    *,
    session: AsyncSession,
    channel: str,
    update_id: int | str,
    external_id: str,
    claimed: bool = False,
) -> TurnRead:
    """What the turn of this update needs to know first (see the module docstring). For a
    replay (`seen`) only the stored replies matter. `claimed`: this transaction inserted the
    update's row already (never `seen`)."""
    rows = (
        await session.execute(
            _STATEMENTS[claimed],
            {"channel": channel, "update_id": str(update_id), "external_id": str(external_id)},
        )
    ).all()
    return _turn_of(rows)


async def claim_and_read(
    *,
    session: AsyncSession,
    channel: str,
    update_id: int | str,
    external_id: str,
    now: datetime,
    marks: Sequence[Mark] = (),
) -> TurnRead | None:
    """PostgreSQL: `storage.updates.record_update` (the update's row, with `marks`) and
    `read_turn(claimed=True)` in one statement, one round trip (the INSERT as a CTE; the read
    does not need to see its row). None when the row was there already (a concurrent
    duplicate committed first, or a replay): nothing was read, the caller replays the stored
    replies (`stored_replies`, a statement of its own that sees the other transaction's row)."""
    params = record_params(channel=channel, update_id=update_id, now=now, marks=marks)
    values = params["values"]
    values.update(channel=channel, update_id=str(update_id), external_id=str(external_id))
    rows = (await session.execute(_claiming_statement(params["rows"]), values)).all()
    if not rows[0][-1]:
        return None
    return _turn_of(rows)


@lru_cache(maxsize=64)
def _claiming_statement(rows: int) -> Any:
    """`claim_and_read`'s statement for `rows` written rows, built once per row count: the
    claimed read with one more column, whether this update's row was inserted."""
    claim = record_cte(rows)
    mine = (
        select(func.count())
        .select_from(claim)
        .where(
            claim.c.channel == bindparam("this_channel"),
            claim.c.update_id == bindparam("this_update_id"),
        )
        .scalar_subquery()
    )
    return _STATEMENTS[True].add_columns((mine > 0).label("claimed"))


def _turn_of(rows: Sequence[Any]) -> TurnRead:
    first = rows[0]
    if first[0] is not None:
        stored = first[1]
        return TurnRead(seen=True, replies=list(stored) if isinstance(stored, list) else [])
    person: Person | None = first[2]
    if person is None:
        return TurnRead(seen=False)
    read = TurnRead(seen=False, person=person, identity=first[3])
    if first[7] is not None:
        deliverable, campaign = first[8], first[9]
        if deliverable is not None:
            set_committed_value(deliverable, "form", decoded(first[10]))
        if campaign is not None:
            set_committed_value(campaign, "definition", decoded(first[11]))
        read.draft = (first[7], deliverable, campaign)
    units: dict[int, Unit] = {}
    for row in rows:
        kind, unit_id, unit = row[4], row[5], row[6]
        if kind is None:
            continue
        read.roles.append((kind, unit_id, unit.path if unit is not None else None))
        if kind == ROLE_REPORTER and unit is not None and unit.active:
            units[unit_id] = unit
    read.roles.sort(key=lambda role: (role[0], role[2] or ""))
    read.units = sorted(units.values(), key=lambda unit: (unit.name, unit.id or 0))
    return read
