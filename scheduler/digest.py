"""The weekly digest (bản tổng hợp tuần): what one supervisor or admin is told once a week.

`digest_data` gathers the data, `compose_digest` turns it into one message (text from
`bot.digest_text`, chart from `bot.chart`); it matches `scheduler.jobs.DigestComposer`.

Scope: a supervisor gets ALL the units they follow together (one digest, never one per unit; a
unit under two followed units is one row of the unit table, so it is counted once); an admin gets
their whole subtree (province-wide for an admin of the whole tree). A reporter role adds nothing:
the digest scope is the person's admin and supervisor roles only (`visible_units_condition`).

Per open campaign that expects at least one unit of that scope: the figures as of `now` with the
figures as of `now` - 7 days (the change since last week), the units whose report is missing after
its deadline day, the units that reported late, the shortcomings; then, once for the whole
digest, the people on those units whom the bot cannot reach (Person.unreachable_at: they blocked
the bot), so their supervisor or admin can call them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.channels.base import OutgoingMessage
from bot.i18n import pick_language
from storage.access import Scope, scope_of, visible_units_condition
from storage.clock import require_aware
from storage.figures import (
    CAMPAIGN,
    DEADLINE,
    DELIVERABLE,
    REPORT,
    UNIT,
    CampaignContext,
    Figures,
    compute_change,
    deadline_end,
    expected_rows,
    load_campaign,
)
from storage.models import (
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    ChatIdentity,
    Person,
    Role,
    Unit,
)
from storage.shortcomings import Shortcoming, find_shortcomings

CAMPAIGN_OPEN = "open"
# Units (and unreachable people) fetched per list; the text shows fewer and counts the rest.
LIST_CAP = 30


@dataclass(frozen=True)
class DigestUnit:
    code: str
    name: str
    level_code: str
    deliverables: tuple[str, ...]  # keys of the deliverables concerned, in form order


@dataclass(frozen=True)
class UnitList:
    units: tuple[DigestUnit, ...]  # the first `LIST_CAP`, tree order
    total: int  # how many units in all

    @property
    def more(self) -> int:
        return self.total - len(self.units)


@dataclass(frozen=True)
class UnreachablePerson:
    person_id: int
    full_name: str
    role: str
    unit_code: str
    unit_name: str
    since: datetime


@dataclass(frozen=True)
class CampaignDigest:
    figures: Figures  # `figures.previous` = one week earlier
    overdue: UnitList  # no report and the deadline day has ended
    late: UnitList  # reported after the deadline day
    shortcomings: tuple[Shortcoming, ...]

    @property
    def expected(self) -> int:
        return max((s.expected for s in self.figures.total.status.values()), default=0)


@dataclass(frozen=True)
class DigestData:
    person_id: int
    full_name: str
    lang: str
    is_admin: bool
    now: datetime
    campaigns: tuple[CampaignDigest, ...]
    unreachable: tuple[UnreachablePerson, ...]
    unreachable_total: int


def digest_scope(scope: Scope) -> Scope | None:
    """The part of a scope a digest covers (admin and supervisor roles), None when empty."""
    if not (scope.is_admin or scope.is_supervisor):
        return None
    return replace(scope, reporter_unit_ids=())


async def _language(session: AsyncSession, person: Person) -> str:
    codes = (
        await session.execute(
            select(col(ChatIdentity.language_code))
            .where(col(ChatIdentity.person_id) == person.id)
            .order_by(col(ChatIdentity.bound_at))
        )
    ).scalars()
    return pick_language(person.language, *codes)


def _passed_deadlines(ctx: CampaignContext, as_of: datetime) -> list[int]:
    return [dl_id for dl_id, end in ctx.deadline_ends.items() if as_of >= end]


async def _unit_list(
    session: AsyncSession,
    ctx: CampaignContext,
    condition: ColumnElement[bool],
    *,
    as_of: datetime,
    unit_filter: ColumnElement[bool],
) -> UnitList:
    """The units with at least one (unit, deliverable) row matching `condition`: how many, and
    the first `LIST_CAP` in tree order with their deliverables (two set-based queries)."""

    def rows(columns: list[Any]) -> Any:
        return expected_rows(
            ctx, columns, as_of=as_of, root_path=None, unit_filter=unit_filter
        ).where(condition)

    matched = rows([UNIT.c.id, UNIT.c.path]).distinct().subquery("matched")
    # The first units and, on every row, how many there are in all (one query).
    head = (
        await session.execute(
            select(matched.c.id, func.count().over().label("total"))
            .order_by(matched.c.path)
            .limit(LIST_CAP)
        )
    ).all()
    if not head:
        return UnitList((), 0)
    total = int(head[0].total)
    first = [r.id for r in head]
    detail = (
        rows([UNIT.c.code, UNIT.c.name, UNIT.c.level_code, UNIT.c.path, DELIVERABLE.c.key])
        .where(UNIT.c.id.in_(first))
        .order_by(UNIT.c.path, DELIVERABLE.c.position, DELIVERABLE.c.id)
    )
    units: dict[str, tuple[Any, list[str]]] = {}
    for row in (await session.execute(detail)).all():
        units.setdefault(row.code, (row, []))[1].append(row.key)
    return UnitList(
        tuple(
            DigestUnit(row.code, row.name, row.level_code, tuple(keys))
            for row, keys in units.values()
        ),
        total,
    )


async def _campaign_digest(
    session: AsyncSession, campaign_id: int, now: datetime, unit_filter: ColumnElement[bool]
) -> CampaignDigest | None:
    figures = await compute_change(
        session=session, campaign_id=campaign_id, now=now, unit_filter=unit_filter
    )
    if not any(s.expected for s in figures.total.status.values()):
        return None  # none of this person's units is in the campaign
    ctx = await load_campaign(session=session, campaign_id=campaign_id)
    passed = _passed_deadlines(ctx, now)
    overdue = (
        await _unit_list(
            session,
            ctx,
            and_(REPORT.c.id.is_(None), DEADLINE.c.id.in_(passed)),
            as_of=now,
            unit_filter=unit_filter,
        )
        if passed
        else UnitList((), 0)
    )
    late = await _unit_list(
        session,
        ctx,
        and_(REPORT.c.id.is_not(None), REPORT.c.first_confirmed_at >= deadline_end(ctx)),
        as_of=now,
        unit_filter=unit_filter,
    )
    shortcomings = await find_shortcomings(
        session=session, campaign_id=campaign_id, as_of=now, unit_filter=unit_filter
    )
    return CampaignDigest(figures, overdue, late, tuple(shortcomings))


async def _unreachable(
    session: AsyncSession, person_id: int, unit_filter: ColumnElement[bool]
) -> tuple[tuple[UnreachablePerson, ...], int]:
    """Reporters and supervisors of active units in scope whom the bot cannot reach."""
    base = (
        select(
            col(Person.id),
            col(Person.full_name),
            col(Person.unreachable_at),
            col(Role.kind),
            col(Unit.code),
            col(Unit.name),
            col(Unit.path),
        )
        .join(Role, col(Role.person_id) == col(Person.id))
        .join(Unit, col(Unit.id) == col(Role.unit_id))
        .where(
            col(Person.unreachable_at).is_not(None),
            col(Person.forgotten_at).is_(None),
            col(Person.id) != person_id,
            col(Role.kind).in_([ROLE_REPORTER, ROLE_SUPERVISOR]),
            col(Unit.active).is_(True),
            unit_filter,
        )
    )
    total = int(
        (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one() or 0
    )
    if not total:
        return (), 0
    rows = (
        await session.execute(
            base.order_by(col(Unit.path), col(Person.full_name), col(Person.id)).limit(LIST_CAP)
        )
    ).all()
    people = tuple(
        UnreachablePerson(
            person_id=r.id,
            full_name=r.full_name,
            role=r.kind,
            unit_code=r.code,
            unit_name=r.name,
            since=r.unreachable_at,
        )
        for r in rows
    )
    return people, total


async def digest_data(*, session: AsyncSession, person_id: int, now: datetime) -> DigestData | None:
    """Everything the person's weekly digest says, or None when there is nothing to send (no
    admin or supervisor role, a forgotten person, or no open campaign expecting their units)."""
    require_aware(now)
    person = await session.get(Person, person_id)
    if person is None or person.forgotten_at is not None:
        return None
    scope = digest_scope(await scope_of(session=session, person_id=person_id))
    if scope is None:
        return None
    unit_filter = visible_units_condition(scope)
    campaign_ids: list[int] = list(
        (
            await session.execute(
                select(CAMPAIGN.c.id)
                .where(CAMPAIGN.c.status == CAMPAIGN_OPEN)
                .order_by(CAMPAIGN.c.id)
            )
        )
        .scalars()
        .all()
    )
    campaigns: list[CampaignDigest] = []
    for campaign_id in campaign_ids:
        digest = await _campaign_digest(session, campaign_id, now, unit_filter)
        if digest is not None:
            campaigns.append(digest)
    if not campaigns:
        return None
    unreachable, unreachable_total = await _unreachable(session, person_id, unit_filter)
    return DigestData(
        person_id=person_id,
        full_name=person.full_name,
        lang=await _language(session, person),
        is_admin=scope.is_admin,
        now=now,
        campaigns=tuple(campaigns),
        unreachable=unreachable,
        unreachable_total=unreachable_total,
    )


async def compose_digest(
    session: AsyncSession, person: Person, now: datetime
) -> OutgoingMessage | None:
    """The digest message for `person` (text + chart), or None (see `digest_data`). Matches
    `scheduler.jobs.DigestComposer`."""
    # Imported here: matplotlib loads only when a digest is actually composed.
    from bot.chart import render_chart
    from bot.digest_text import render_digest

    if person.id is None:
        return None
    data = await digest_data(session=session, person_id=person.id, now=now)
    if data is None:
        return None
    return OutgoingMessage(text=render_digest(data), photo=render_chart(data))
