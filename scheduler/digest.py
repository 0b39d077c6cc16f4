"""The weekly digest (bản tổng hợp tuần): what one supervisor or admin is told once a week.

`digest_data_many` gathers the data for many people at once, `compose_digests` turns each into
one message (text from `scheduler.digest_text`, chart from `scheduler.digest_chart`; both render
the types of `scheduler.digest_types`). `digest_data` and
`compose_digest` are the same path for one person (/tonghop, the CLI); `compose_digest` also
offers `.many`, so `scheduler.jobs.digest_pass` composes its recipients in batches.

Batching, per batch of people and per open campaign: the campaign is loaded once and its context
passed to every helper; the figures now and a week earlier of everyone come from
`compute_figures_many` on the scopes read once (one grouped statement for both as-of times); the
overdue and late lists are one statement for everyone (window functions cut each person's list
at `LIST_CAP`); the shortcomings stay one query per person
(`storage.shortcomings.find_shortcomings` takes one scope). Once per batch: the roles, the
people, their chat languages, the unreachable people.

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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.digest_types import (
    CampaignDigest,
    DigestData,
    DigestUnit,
    UnitList,
    UnreachablePerson,
)
from storage.access import Scope, scopes_of
from storage.campaign_status import CAMPAIGN_OPEN
from storage.clock import require_aware
from storage.figures import (
    CAMPAIGN,
    DEADLINE,
    DELIVERABLE,
    REPORT,
    UNIT,
    CampaignContext,
    UnitScope,
    compute_figures_many,
    deadline_end,
    expected_rows,
    kept_scoped,
    load_campaign,
    scope_chunks,
)
from storage.figures.memo import AS_OF, as_of_param, context_key
from storage.figures.query import AsOf
from storage.i18n import pick_language
from storage.messages import OutgoingMessage
from storage.models import ROLE_REPORTER, ROLE_SUPERVISOR, Person, metadata
from storage.review import pending_counts, requires_review
from storage.shortcomings import find_shortcomings

# Units (and unreachable people) fetched per list; the text shows fewer and counts the rest.
LIST_CAP = 30
# Ids per IN list (below the drivers' bind-parameter limits).
IDS_PER_QUERY = 5_000
# People per `digest_data_many` call in the weekly pass (scheduler.jobs.DIGEST_CHUNK).
BATCH = 1_000
ROLE = metadata.tables["role"]
PERSON = metadata.tables["person"]

__all__ = [
    "CampaignDigest",
    "DigestData",
    "DigestMessages",
    "DigestUnit",
    "UnitList",
    "UnreachablePerson",
    "compose_digest",
    "compose_digests",
    "digest_data",
    "digest_data_many",
    "digest_scope",
]


def digest_scope(scope: Scope) -> Scope | None:
    """The part of a scope a digest covers (admin and supervisor roles), None when empty."""
    if not (scope.is_admin or scope.is_supervisor):
        return None
    return replace(scope, reporter_unit_ids=())


def _passed_deadlines(ctx: CampaignContext, as_of: datetime) -> list[int]:
    return [dl_id for dl_id, end in ctx.deadline_ends.items() if as_of >= end]


def _slices(count: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, IDS_PER_QUERY):
        yield start, min(count, start + IDS_PER_QUERY)


async def _people(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, Any]:
    """The people as the database says now, forgotten ones left out: id -> (full name, the
    language they read: their setting, else their chats' language codes, oldest first). One
    statement per `IDS_PER_QUERY` people (each row a person with one of their chats, or none)."""
    chats = metadata.tables["chat_identity"]
    found: dict[int, tuple[str, str | None, list[str | None]]] = {}
    for start, stop in _slices(len(person_ids)):
        rows = await session.execute(
            select(PERSON.c.id, PERSON.c.full_name, PERSON.c.language, chats.c.language_code)
            .outerjoin(chats, chats.c.person_id == PERSON.c.id)
            .where(PERSON.c.id.in_(person_ids[start:stop]), PERSON.c.forgotten_at.is_(None))
            .order_by(PERSON.c.id, chats.c.bound_at, chats.c.id)
        )
        for pid, full_name, language, code in rows.all():
            found.setdefault(pid, (full_name, language, []))[2].append(code)
    return {
        pid: (full_name, pick_language(language, *codes))
        for pid, (full_name, language, codes) in found.items()
    }


OVERDUE, LATE = 0, 1  # the two lists of `_unit_lists`


def _lists_statement(
    ctx: CampaignContext, as_of: AsOf, passed: Sequence[int], from_units: Any, scope_key: Any
) -> Any:
    """The overdue list (no report after a passed deadline day) and the late list (reported
    after the deadline day) of every scope of the batch, in one statement: each row with its
    list, the unit's place in that list (its rows share it) and the list's length."""
    overdue = and_(REPORT.c.id.is_(None), DEADLINE.c.id.in_(passed)) if passed else false()
    late = and_(REPORT.c.id.is_not(None), REPORT.c.first_confirmed_at >= deadline_end(ctx))
    matched = (
        expected_rows(
            ctx,
            [
                scope_key.label("k"),
                case((overdue, OVERDUE), else_=LATE).label("list"),
                UNIT.c.code,
                UNIT.c.name,
                UNIT.c.level_code,
                UNIT.c.path,
                DELIVERABLE.c.key,
                DELIVERABLE.c.position,
                DELIVERABLE.c.id.label("deliverable_id"),
            ],
            as_of=as_of,
            root_path=None,
            unit_filter=None,
            units=from_units,
        )
        .where(or_(overdue, late))
        .subquery("matched")
    )
    each = (matched.c.k, matched.c.list)
    ranked = select(
        matched, func.dense_rank().over(partition_by=each, order_by=matched.c.path).label("nth")
    ).subquery("ranked")
    counted = select(
        ranked,
        func.max(ranked.c.nth).over(partition_by=(ranked.c.k, ranked.c.list)).label("total"),
    ).subquery("counted")
    return (
        select(counted)
        .where(counted.c.nth <= LIST_CAP)
        .order_by(counted.c.k, counted.c.list, counted.c.path)
        .order_by(counted.c.position, counted.c.deliverable_id)
    )


async def _unit_lists(
    session: AsyncSession,
    ctx: CampaignContext,
    *,
    as_of: datetime,
    units: Mapping[int, UnitScope],
) -> tuple[dict[int, UnitList], dict[int, UnitList]]:
    """For each person, the overdue and the late list: the units with at least one (unit,
    deliverable) row in it, how many, and the first `LIST_CAP` in tree order with their
    deliverables. One statement per `scope_chunks` slice for everyone (a small one kept,
    `storage.figures.memo`)."""
    people = list(units)
    scopes = [units[pid] for pid in people]
    passed = _passed_deadlines(ctx, as_of)
    found: dict[tuple[int, int], dict[str, tuple[Any, list[str]]]] = {}
    totals: dict[tuple[int, int], int] = {}
    for start, stop in scope_chunks(scopes):
        stmt, params = kept_scoped(
            ("digest lists", LIST_CAP, context_key(ctx), tuple(passed)),
            scopes[start:stop],
            lambda units, key: _lists_statement(ctx, as_of_param(), passed, units, key),
            session=session,
        )
        if stmt is None:
            continue
        for row in (await session.execute(stmt, {AS_OF: as_of, **params})).all():
            at = (people[start + row.k], row.list)
            totals[at] = int(row.total)
            found.setdefault(at, {}).setdefault(row.code, (row, []))[1].append(row.key)

    def listed(pid: int, which: int) -> UnitList:
        return UnitList(
            tuple(
                DigestUnit(row.code, row.name, row.level_code, tuple(keys))
                for row, keys in found.get((pid, which), {}).values()
            ),
            totals.get((pid, which), 0),
        )

    return (
        {pid: listed(pid, OVERDUE) for pid in people},
        {pid: listed(pid, LATE) for pid in people},
    )


async def _campaign_digests(
    session: AsyncSession,
    ctx: CampaignContext,
    now: datetime,
    scopes: Mapping[int, Scope],
    units: Mapping[int, UnitScope],
) -> dict[int, CampaignDigest]:
    """The campaign's part of each person's digest (`scopes`: digest scopes); people none of
    whose units it expects are left out."""
    # `units` are the digest scopes already read (no second role query, as figures_for_people
    # would make): the same figures, person by person.
    figures = await compute_figures_many(
        session=session,
        campaign_id=ctx.id,
        as_of=now,
        scopes=units,
        with_previous=True,
        context=ctx,
    )
    concerned = {pid: units[pid] for pid, f in figures.items() if f.total.expected_units}
    if not concerned:
        return {}
    overdue, late = await _unit_lists(session, ctx, as_of=now, units=concerned)
    digests: dict[int, CampaignDigest] = {}
    for pid in concerned:
        shortcomings = await find_shortcomings(
            session=session,
            campaign_id=ctx.id,
            as_of=now,
            context=ctx,
            scope=units[pid],
        )
        digests[pid] = CampaignDigest(figures[pid], overdue[pid], late[pid], tuple(shortcomings))
    return digests


def _unreachable_statement(from_units: Any, scope_key: Any) -> Any:
    return (
        select(
            scope_key.label("k"),
            PERSON.c.id,
            PERSON.c.full_name,
            PERSON.c.unreachable_at,
            ROLE.c.kind,
            UNIT.c.code,
            UNIT.c.name,
        )
        .select_from(from_units)
        .join(ROLE, ROLE.c.unit_id == UNIT.c.id)
        .join(PERSON, PERSON.c.id == ROLE.c.person_id)
        .where(
            PERSON.c.unreachable_at.is_not(None),
            PERSON.c.forgotten_at.is_(None),
            ROLE.c.kind.in_([ROLE_REPORTER, ROLE_SUPERVISOR]),
            UNIT.c.active.is_(True),
        )
        .order_by(scope_key, UNIT.c.path, PERSON.c.full_name, PERSON.c.id)
    )


async def _unreachable(
    session: AsyncSession, units: Mapping[int, UnitScope]
) -> dict[int, tuple[tuple[UnreachablePerson, ...], int]]:
    """For each person: the reporters and supervisors of active units in their scope whom the
    bot cannot reach (not the person themselves), the first `LIST_CAP` and how many. One
    statement per `scope_chunks` slice; such people are few (they blocked the bot)."""
    people = list(units)
    scopes = [units[pid] for pid in people]
    listed: dict[int, list[UnreachablePerson]] = {}
    totals: dict[int, int] = {}
    for start, stop in scope_chunks(scopes):
        stmt, params = kept_scoped(
            "digest unreachable",
            scopes[start:stop],
            _unreachable_statement,
            session=session,
        )
        if stmt is None:
            continue
        for row in (await session.execute(stmt, params)).all():
            pid = people[start + row.k]
            if row.id == pid:
                continue
            totals[pid] = totals.get(pid, 0) + 1
            into = listed.setdefault(pid, [])
            if len(into) < LIST_CAP:
                into.append(
                    UnreachablePerson(
                        person_id=row.id,
                        full_name=row.full_name,
                        role=row.kind,
                        unit_code=row.code,
                        unit_name=row.name,
                        since=row.unreachable_at,
                    )
                )
    return {pid: (tuple(listed.get(pid, ())), totals.get(pid, 0)) for pid in people}


async def digest_data_many(
    *, session: AsyncSession, person_ids: Iterable[int], now: datetime
) -> dict[int, DigestData]:
    """Everything each person's weekly digest says, for the people who get one (an admin or
    supervisor role, not forgotten, an open campaign expecting some of their units). Keep a
    call to about `BATCH` people: the lists of everyone are held at once."""
    require_aware(now)
    wanted = sorted(set(person_ids))
    scopes: dict[int, Scope] = {}
    for pid, scope in (await scopes_of(session=session, person_ids=wanted)).items():
        if (covered := digest_scope(scope)) is not None:
            scopes[pid] = covered
    units = {pid: UnitScope.of(scope) for pid, scope in scopes.items()}
    if not units:
        return {}
    open_campaigns = (
        await session.execute(
            select(CAMPAIGN.c.id, CAMPAIGN.c.definition)
            .where(CAMPAIGN.c.status == CAMPAIGN_OPEN)
            .order_by(CAMPAIGN.c.id)
        )
    ).all()
    campaign_ids = [row.id for row in open_campaigns]
    # The pending-review counts need the open campaigns that require review: read here.
    reviewed = [row.id for row in open_campaigns if requires_review(row.definition)]
    campaigns: dict[int, list[CampaignDigest]] = {}
    for campaign_id in campaign_ids:
        ctx = await load_campaign(session=session, campaign_id=campaign_id)
        found = await _campaign_digests(session, ctx, now, scopes, units)
        for pid, digest in found.items():
            campaigns.setdefault(pid, []).append(digest)
    people = await _people(session, sorted(campaigns))
    if not people:
        return {}
    unreachable = await _unreachable(session, {pid: units[pid] for pid in people})
    pending = await pending_counts(
        session=session, scopes={pid: scopes[pid] for pid in people}, reviewed=reviewed
    )
    return {
        pid: DigestData(
            person_id=pid,
            full_name=full_name,
            lang=lang,
            is_admin=scopes[pid].is_admin,
            now=now,
            campaigns=tuple(campaigns[pid]),
            unreachable=unreachable[pid][0],
            unreachable_total=unreachable[pid][1],
            pending_reviews=pending.get(pid, 0),
        )
        for pid, (full_name, lang) in sorted(people.items())
    }


async def digest_data(*, session: AsyncSession, person_id: int, now: datetime) -> DigestData | None:
    """Everything the person's weekly digest says, or None when there is nothing to send (no
    admin or supervisor role, a forgotten person, or no open campaign expecting their units).
    The batch path (`digest_data_many`) with one person."""
    return (await digest_data_many(session=session, person_ids=[person_id], now=now)).get(person_id)


async def compose_digests(
    session: AsyncSession, people: Sequence[Person], now: datetime
) -> dict[int, OutgoingMessage]:
    """The digest message (text + chart) of each of `people` who gets one (see
    `digest_data_many`), by person id."""
    # Imported here: matplotlib loads only when a digest is actually composed.
    from scheduler.digest_chart import render_chart
    from scheduler.digest_text import render_digest

    ids = [p.id for p in people if p.id is not None]
    data = await digest_data_many(session=session, person_ids=ids, now=now)
    return {
        pid: OutgoingMessage(text=render_digest(d), photo=render_chart(d))
        for pid, d in data.items()
    }


class DigestMessages:
    """`compose_digest(session, person, now)`: one person's digest message or None (matches
    `scheduler.jobs.DigestComposer`); `compose_digest.many(session, people, now)`: the batch
    (`scheduler.jobs.BatchDigestComposer`), which `digest_pass` uses."""

    async def __call__(
        self, session: AsyncSession, person: Person, now: datetime
    ) -> OutgoingMessage | None:
        if person.id is None:
            return None
        return (await compose_digests(session, [person], now)).get(person.id)

    async def many(
        self, session: AsyncSession, people: Sequence[Person], now: datetime
    ) -> dict[int, OutgoingMessage]:
        return await compose_digests(session, people, now)


compose_digest = DigestMessages()
