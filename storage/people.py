"""People, their chat identities and their roles.

A person has at most one identity per channel; a chat identity belongs to one person. Roles are
rows: admin over a subtree (unit_id None = the whole tree), supervisor of one unit per row,
reporter of one unit. Removing a role or a person takes effect at once: nothing is cached (see
`storage.access`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.answers import fold
from storage.audit import AuditTrail
from storage.clock import require_aware
from storage.models import (
    CHANNEL_CLI,
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    ROLES,
    ChatIdentity,
    Invite,
    Person,
    Role,
    Unit,
)
from storage.rows import add_row, delete_rows, update_rows
from storage.tree import in_subtree

CHUNK = 500


class IdentityBoundElsewhere(Exception):
    """This chat account already belongs to another person (one account = one person)."""

    def __init__(self, person_id: int) -> None:
        super().__init__(f"chat identity already bound to person {person_id}")
        self.person_id = person_id


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- persons -------------------------------------------------------------------------------


async def create_person(
    *,
    session: AsyncSession,
    full_name: str,
    now: datetime,
    phone: str | None = None,
    language: str | None = None,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> Person:
    person = Person(
        full_name=full_name.strip(), phone=phone, language=language, created_at=require_aware(now)
    )
    await add_row(session, person)
    assert person.id is not None
    trail = AuditTrail(now, channel, actor_person_id, "person")
    await trail.record(
        session, "person.create", person.id, new={"full_name": person.full_name, "phone": phone}
    )
    return person


async def get_person(*, session: AsyncSession, person_id: int) -> Person | None:
    """The person with this id, unless removed (forgotten)."""
    return (
        await session.execute(
            select(Person).where(col(Person.id) == person_id, col(Person.forgotten_at).is_(None))
        )
    ).scalar_one_or_none()


async def find_person_by_phone(*, session: AsyncSession, phone: str) -> Person | None:
    return (
        (
            await session.execute(
                select(Person)
                .where(col(Person.phone) == phone, col(Person.forgotten_at).is_(None))
                .order_by(col(Person.id))
            )
        )
        .scalars()
        .first()
    )


async def find_person_by_identity(
    *, session: AsyncSession, channel: str, external_id: str
) -> Person | None:
    """The person behind a chat account, or None (unknown, or removed)."""
    found = await find_person_with_identity(
        session=session, channel=channel, external_id=external_id
    )
    return None if found is None else found[0]


async def get_identity(
    *, session: AsyncSession, channel: str, external_id: str
) -> ChatIdentity | None:
    return (
        await session.execute(
            select(ChatIdentity).where(
                col(ChatIdentity.channel) == channel,
                col(ChatIdentity.external_id) == str(external_id),
            )
        )
    ).scalar_one_or_none()


async def identities_of(*, session: AsyncSession, person_id: int) -> list[ChatIdentity]:
    return list(
        (
            await session.execute(
                select(ChatIdentity)
                .where(col(ChatIdentity.person_id) == person_id)
                .order_by(col(ChatIdentity.channel))
            )
        ).scalars()
    )


@dataclass(frozen=True)
class ChatAccount:
    """A chat account as an update shows it: the channel, the account's id there and, when the
    update says, the chat to write to and the client's language."""

    channel: str
    external_id: str
    chat_id: str | None = None
    language_code: str | None = None


async def bind_identity(
    *,
    session: AsyncSession,
    person_id: int,
    account: ChatAccount,
    now: datetime,
    actor_person_id: int | None = None,
    audit_channel: str | None = None,
) -> ChatIdentity:
    """Bind a chat account to a person, replacing that person's previous account on the channel.

    Raises IdentityBoundElsewhere when the account already belongs to another person."""
    require_aware(now)
    channel, external_id = account.channel, str(account.external_id)
    existing = await get_identity(session=session, channel=channel, external_id=external_id)
    if existing is not None and existing.person_id != person_id:
        raise IdentityBoundElsewhere(existing.person_id)
    if existing is not None:
        existing.chat_id = account.chat_id or existing.chat_id
        existing.language_code = account.language_code or existing.language_code
        existing.last_seen_at = now
        await session.flush()
        return existing
    previous = (
        await session.execute(
            select(ChatIdentity).where(
                col(ChatIdentity.person_id) == person_id, col(ChatIdentity.channel) == channel
            )
        )
    ).scalar_one_or_none()
    old: dict[str, Any] | None = None
    if previous is not None:
        old = {"channel": channel, "external_id": previous.external_id}
        await session.execute(delete(ChatIdentity).where(col(ChatIdentity.id) == previous.id))
    identity = ChatIdentity(
        person_id=person_id,
        channel=channel,
        external_id=external_id,
        chat_id=account.chat_id,
        language_code=account.language_code,
        bound_at=now,
        last_seen_at=now,
    )
    await add_row(session, identity)
    actor = actor_person_id if actor_person_id is not None else person_id
    trail = AuditTrail(now, audit_channel or channel, actor, "person")
    await trail.record(
        session,
        "identity.rebind" if previous is not None else "identity.bind",
        person_id,
        old=old,
        new={"channel": channel, "external_id": external_id},
    )
    return identity


async def find_person_with_identity(
    *, session: AsyncSession, channel: str, external_id: str
) -> tuple[Person, ChatIdentity] | None:
    """The person behind a chat account with the account's row (one query), or None (unknown,
    or removed): what `touch_identity(seen=...)` needs to skip a useless write."""
    row = (
        await session.execute(
            select(Person, ChatIdentity)
            .join(ChatIdentity, col(ChatIdentity.person_id) == col(Person.id))
            .where(
                col(ChatIdentity.channel) == channel,
                col(ChatIdentity.external_id) == str(external_id),
                col(Person.forgotten_at).is_(None),
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


TOUCH_INTERVAL = timedelta(hours=1)


async def touch_identity(
    *, session: AsyncSession, account: ChatAccount, now: datetime, seen: ChatIdentity | None = None
) -> bool:
    """Record that the account was seen now (and its current chat id and client language).

    With `seen` (the account's row as read in this transaction) nothing is written when the
    chat id and language are unchanged and `last_seen_at` is less than `TOUCH_INTERVAL` old:
    most updates then cost no write. True when the row was written."""
    require_aware(now)
    chat_id, language_code = account.chat_id, account.language_code
    if (
        seen is not None
        and (chat_id is None or seen.chat_id == str(chat_id))
        and (language_code is None or seen.language_code == language_code)
        and seen.last_seen_at is not None
        and now - TOUCH_INTERVAL < seen.last_seen_at <= now
    ):
        return False
    values: dict[str, Any] = {"last_seen_at": now}
    if chat_id is not None:
        values["chat_id"] = str(chat_id)
    if language_code is not None:
        values["language_code"] = language_code
    params = {f"new_{name}": value for name, value in values.items()}
    params.update(identity_channel=account.channel, identity_external_id=str(account.external_id))
    await session.execute(_touch_statement(frozenset(values)), params)
    return True


_IDENTITY: Any = ChatIdentity.__table__  # type: ignore[attr-defined]  # Core statements


@lru_cache(maxsize=4)
def _touch_statement(changed: frozenset[str]) -> Any:
    """`touch_identity`'s UPDATE for one set of columns, built once: a Core statement on the
    table (no ORM bulk-update set-up per call)."""
    return (
        update(_IDENTITY)
        .where(
            _IDENTITY.c.channel == bindparam("identity_channel"),
            _IDENTITY.c.external_id == bindparam("identity_external_id"),
        )
        .values({name: bindparam(f"new_{name}") for name in sorted(changed)})
    )


async def set_preferred_channel(
    *, session: AsyncSession, person_id: int, channel: str | None
) -> None:
    """Where proactive messages go (`CHANNEL_TELEGRAM` / `CHANNEL_ZALO`; None: the channel the
    person wrote from last). Not audited here: the caller records the change it made."""
    await update_rows(session, Person, {"preferred_channel": channel}, col(Person.id) == person_id)


# --- roles ---------------------------------------------------------------------------------


def check_role(kind: str, unit_id: int | None) -> None:
    if kind not in ROLES:
        raise ValueError(f"unknown role {kind!r}")
    if kind != ROLE_ADMIN and unit_id is None:
        raise ValueError(f"a {kind} role needs a unit")


def _role_filter(person_id: int, kind: str, unit_id: int | None) -> list[Any]:
    unit_cond = col(Role.unit_id).is_(None) if unit_id is None else col(Role.unit_id) == unit_id
    return [col(Role.person_id) == person_id, col(Role.kind) == kind, unit_cond]


async def grant_role(
    *,
    session: AsyncSession,
    person_id: int,
    kind: str,
    unit_id: int | None,
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> Role:
    """Give a role (idempotent: an existing identical role is returned unchanged)."""
    trail = AuditTrail(now, channel, actor_person_id, "person")
    role, _ = await _give_role(session, trail, person_id, kind, unit_id)
    return role


async def set_role(
    *,
    session: AsyncSession,
    person_id: int,
    kind: str,
    unit_id: int | None,
    held: bool,
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> bool:
    """Give the role (`held`) or take it away, audited as "role.grant" / "role.revoke". True
    when that changed something: the role was given and not held before, or taken away and
    held before."""
    trail = AuditTrail(now, channel, actor_person_id, "person")
    if held:
        _, added = await _give_role(session, trail, person_id, kind, unit_id)
        return added
    removed = bool(await delete_rows(session, Role, *_role_filter(person_id, kind, unit_id)))
    if removed:
        await trail.record(
            session, "role.revoke", person_id, old={"kind": kind, "unit_id": unit_id}
        )
    return removed


async def _give_role(
    session: AsyncSession, trail: AuditTrail, person_id: int, kind: str, unit_id: int | None
) -> tuple[Role, bool]:
    """The role, found or added (audited); whether it was added."""
    check_role(kind, unit_id)
    existing = (
        await session.execute(select(Role).where(*_role_filter(person_id, kind, unit_id)))
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    role = Role(
        person_id=person_id, kind=kind, unit_id=unit_id, created_at=require_aware(trail.now)
    )
    await add_row(session, role)
    await trail.record(session, "role.grant", person_id, new={"kind": kind, "unit_id": unit_id})
    return role, True


async def roles_of(*, session: AsyncSession, person_id: int) -> list[Role]:
    return list(
        (
            await session.execute(
                select(Role)
                .where(col(Role.person_id) == person_id)
                .order_by(col(Role.kind), col(Role.unit_id))
            )
        ).scalars()
    )


async def remove_person(
    *,
    session: AsyncSession,
    person_id: int,
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> bool:
    """Remove a person at once: roles and chat identities deleted, pending invites for them
    revoked, the row kept (marked forgotten) so history still names its author."""
    person = await get_person(session=session, person_id=person_id)
    if person is None:
        return False
    roles = await roles_of(session=session, person_id=person_id)
    identities = await identities_of(session=session, person_id=person_id)
    await delete_rows(session, Role, col(Role.person_id) == person_id)
    await delete_rows(session, ChatIdentity, col(ChatIdentity.person_id) == person_id)
    await update_rows(
        session,
        Invite,
        {"revoked_at": require_aware(now)},
        col(Invite.person_id) == person_id,
        col(Invite.used_at).is_(None),
        col(Invite.revoked_at).is_(None),
    )
    person.forgotten_at = now
    await session.flush()
    trail = AuditTrail(now, channel, actor_person_id, "person")
    await trail.record(
        session,
        "person.remove",
        person_id,
        old={
            "full_name": person.full_name,
            "roles": [{"kind": r.kind, "unit_id": r.unit_id} for r in roles],
            "identities": [
                {"channel": i.channel, "external_id": i.external_id} for i in identities
            ],
        },
    )
    return True


# --- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonSummary:
    id: int
    full_name: str
    phone: str | None
    roles: tuple[tuple[str, str | None], ...]  # (kind, unit code or None = whole tree)
    channels: tuple[str, ...]


async def list_people(
    *, session: AsyncSession, under_path: str | None = None
) -> list[PersonSummary]:
    """Every current person with their roles and bound channels; with `under_path`, only the
    people holding a role on a unit in that subtree."""
    query = select(col(Person.id), col(Person.full_name), col(Person.phone)).where(
        col(Person.forgotten_at).is_(None)
    )
    if under_path is not None:
        holders = (
            select(col(Role.person_id))
            .join(Unit, col(Unit.id) == col(Role.unit_id))
            .where(in_subtree(col(Unit.path), under_path))
        )
        query = query.where(col(Person.id).in_(holders))
    people = (await session.execute(query.order_by(col(Person.full_name), col(Person.id)))).all()
    ids = [row.id for row in people]
    roles: dict[int, list[tuple[str, str | None]]] = {}
    channels: dict[int, list[str]] = {}
    for chunk in _chunks(ids):
        role_rows = await session.execute(
            select(col(Role.person_id), col(Role.kind), col(Unit.code))
            .outerjoin(Unit, col(Unit.id) == col(Role.unit_id))
            .where(col(Role.person_id).in_(chunk))
            .order_by(col(Role.kind), col(Unit.code))
        )
        for person_id, kind, code in role_rows:
            roles.setdefault(person_id, []).append((kind, code))
        identity_rows = await session.execute(
            select(col(ChatIdentity.person_id), col(ChatIdentity.channel))
            .where(col(ChatIdentity.person_id).in_(chunk))
            .order_by(col(ChatIdentity.channel))
        )
        for person_id, channel in identity_rows:
            channels.setdefault(person_id, []).append(channel)
    return [
        PersonSummary(
            id=row.id,
            full_name=row.full_name,
            phone=row.phone,
            roles=tuple(roles.get(row.id, ())),
            channels=tuple(channels.get(row.id, ())),
        )
        for row in people
    ]


# --- role words ------------------------------------------------------------------------

# Role words as people write them (files, chat), matched without case, spaces or diacritics.
ROLE_WORDS = {
    "admin": ROLE_ADMIN,
    "quantri": ROLE_ADMIN,
    "supervisor": ROLE_SUPERVISOR,
    "theodoi": ROLE_SUPERVISOR,
    "giamsat": ROLE_SUPERVISOR,
    "reporter": ROLE_REPORTER,
    "baocao": ROLE_REPORTER,
    "bithu": ROLE_REPORTER,
}


def role_from_word(text: str) -> str | None:
    """The role a word names ("Báo cáo", "bao cao", "bíthư", "supervisor" ...), or None."""
    return ROLE_WORDS.get(fold(text).replace(" ", ""))
