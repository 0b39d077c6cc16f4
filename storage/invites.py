"""One-time invites: the only way a chat account becomes a person with a role.

The plain code is returned once, when created; only its SHA-256 is stored. A code is 10
characters in two groups of 5 (`K7Q4M-2XP9T`, see `storage.invite_codes` for the alphabet, its
entropy against the attempt limit, and the older 24-character codes still accepted), valid as a
Telegram deep-link `start` parameter, typed as `/start <code>` or sent alone or inside a sentence
(`find_code`). Redemption is single-use even under concurrency: the invite is claimed by a
conditional UPDATE whose row count decides who won.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.audit import AuditTrail
from storage.clock import require_aware
from storage.invite_codes import MASK as MASK
from storage.invite_codes import find_code as find_code
from storage.invite_codes import hash_code as hash_code
from storage.invite_codes import is_well_formed as is_well_formed
from storage.invite_codes import mask_codes as mask_codes
from storage.invite_codes import new_code as new_code
from storage.invite_codes import normalise_code as normalise_code
from storage.models import CHANNEL_CLI, ChatIdentity, Invite, Person, Role, Unit
from storage.people import (
    ChatAccount,
    bind_identity,
    check_role,
    create_person,
    get_identity,
    get_person,
    grant_role,
    identities_of,
)
from storage.rows import add_row, update_rows

# An invite that grants no role: it only binds the chat account to the person it names (an
# imported person keeps the roles they already have). Only valid with `person_id`.
INVITE_IDENTITY = "identity"
DEFAULT_TTL = timedelta(days=14)
CHUNK = 500


class RedeemStatus(StrEnum):
    SUCCESS = "success"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ALREADY_BOUND = "already_bound"
    # The invite names a person who, since it was made, joined on this channel with another
    # account: it was not made to replace that account (`storage.rebind`), so it never does.
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class RedeemOutcome:
    status: RedeemStatus
    person: Person | None = None
    role: Role | None = None
    unit: Unit | None = None
    invite_id: int | None = None
    # The person's previous account on this channel, replaced by this redemption (to be told:
    # `storage.rebind.warn_accounts`); detached, its row is gone.
    replaced: ChatIdentity | None = None

    @property
    def ok(self) -> bool:
        return self.status is RedeemStatus.SUCCESS


class RevokeStatus(StrEnum):
    REVOKED = "revoked"
    NOT_FOUND = "not_found"
    ALREADY_USED = "already_used"
    ALREADY_REVOKED = "already_revoked"


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


async def create_invite(
    *,
    session: AsyncSession,
    role_kind: str,
    unit_id: int | None,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    person_id: int | None = None,
    person_name: str | None = None,
    created_by_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> tuple[Invite, str]:
    """Create one invite; returns it with the plain code, which is never stored.

    `role_kind=INVITE_IDENTITY` (with `person_id`, no unit) grants nothing: redeeming it binds
    the chat account to that person, who keeps their existing roles. Any other role kind is
    granted on redemption, to `person_id` when given."""
    if role_kind == INVITE_IDENTITY:
        if person_id is None or unit_id is not None:
            raise ValueError("an identity invite names a person and no unit")
    else:
        check_role(role_kind, unit_id)
    require_aware(now)
    code = new_code()
    invite = Invite(
        code_hash=hash_code(code),
        role_kind=role_kind,
        unit_id=unit_id,
        person_id=person_id,
        person_name=person_name,
        created_by_person_id=created_by_person_id,
        created_at=now,
        expires_at=now + ttl,
    )
    await add_row(session, invite)
    assert invite.id is not None
    made = {"role": role_kind, "unit_id": unit_id, "person_id": person_id}
    trail = AuditTrail(now, channel, created_by_person_id, "invite")
    await trail.record(session, "invite.create", invite.id, new=made)
    return invite, code


class InviteOptions(TypedDict, total=False):
    """The optional settings of a batch of invites (`create_invites_for_units`' defaults)."""

    ttl: timedelta
    created_by_person_id: int | None
    channel: str


async def create_invites_for_units(
    *,
    session: AsyncSession,
    role_kind: str,
    units: Sequence[Unit],
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    created_by_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
    person_ids: Sequence[int | None] | None = None,
) -> list[tuple[Unit, str]]:
    """One invite per unit, written in bulk; returns each unit with its plain code.

    `person_ids` (one per unit, None for nobody) binds each invite to that person: redeeming
    it binds the chat account to them (no second person is created) and gives them the role
    (which an imported person already holds: nothing changes). `storage.invite_bulk` picks
    them."""
    require_aware(now)
    if person_ids is not None and len(person_ids) != len(units):
        raise ValueError("one person (or None) per unit")
    result: list[tuple[Unit, str]] = []
    for start in range(0, len(units), CHUNK):
        chunk = units[start : start + CHUNK]
        persons = (
            list(person_ids[start : start + CHUNK])
            if person_ids is not None
            else [None] * len(chunk)
        )
        codes = [new_code() for _ in chunk]
        values = []
        for unit, code, person_id in zip(chunk, codes, persons, strict=True):
            check_role(role_kind, unit.id)
            values.append(
                {
                    "code_hash": hash_code(code),
                    "role_kind": role_kind,
                    "unit_id": unit.id,
                    "person_id": person_id,
                    "created_by_person_id": created_by_person_id,
                    "created_at": now,
                    "expires_at": now + ttl,
                }
            )
        inserted: Any = await session.execute(
            insert(Invite).returning(col(Invite.id), sort_by_parameter_order=True), values
        )
        ids = list(inserted.scalars())
        trail = AuditTrail(now, channel, created_by_person_id, "invite")
        for invite_id, unit, person_id in zip(ids, chunk, persons, strict=True):
            new = {"role": role_kind, "unit_id": unit.id, "person_id": person_id}
            trail.add("invite.create", invite_id, new=new)
        await trail.write(session=session)
        result.extend(zip(chunk, codes, strict=True))
    return result


def _refusal(invite: Invite, now: datetime) -> RedeemStatus | None:
    if invite.revoked_at is not None:
        return RedeemStatus.REVOKED
    if invite.used_at is not None:
        return RedeemStatus.USED
    if invite.expires_at <= now:
        return RedeemStatus.EXPIRED
    return None


async def _close(
    session: AsyncSession, invite_id: int, values: dict[str, Any], *still: ColumnElement[bool]
) -> bool:
    """Set `values` (using or revoking) on the invite if it is neither used nor revoked (and
    `still` holds); False when another change got there first (exactly one can)."""
    done = await update_rows(
        session,
        Invite,
        values,
        col(Invite.id) == invite_id,
        col(Invite.used_at).is_(None),
        col(Invite.revoked_at).is_(None),
        *still,
    )
    return done == 1


async def _load_invite(session: AsyncSession, invite_id: int) -> Invite:
    """The invite as the database has it now (another transaction may just have changed it)."""
    invite = await session.get(Invite, invite_id, populate_existing=True)
    if invite is None:
        raise LookupError(f"invite {invite_id} is gone")
    return invite


async def redeem_invite(
    *,
    session: AsyncSession,
    code: str,
    account: ChatAccount,
    now: datetime,
    display_name: str | None = None,
) -> RedeemOutcome:
    """Use an invite from a chat account: the account becomes (or stays) a person with the
    invite's role. Refusals change nothing.

    An invite that names a person binds the account to that person (replacing their previous
    account on this channel, which `replaced` returns to be told); ALREADY_BOUND if the account
    belongs to someone else; SUPERSEDED if the person joined on this channel with another account
    after the invite was made (a printed code must not move an account in use). An invite
    that names nobody gives the role to the account's person, created if the account is new.
    An identity invite (`INVITE_IDENTITY`) grants no role: the outcome's `role` is None."""
    require_aware(now)
    found = find_code(code)
    if found is None:
        return RedeemOutcome(RedeemStatus.MALFORMED)
    code = found
    invite = (
        await session.execute(select(Invite).where(col(Invite.code_hash) == hash_code(code)))
    ).scalar_one_or_none()
    if invite is None or invite.id is None:
        return RedeemOutcome(RedeemStatus.UNKNOWN)
    refusal = _refusal(invite, now)
    if refusal is not None:
        return RedeemOutcome(refusal, invite_id=invite.id)

    channel, external_id = account.channel, str(account.external_id)
    identity = await get_identity(session=session, channel=channel, external_id=external_id)
    owner = (
        await get_person(session=session, person_id=identity.person_id)
        if identity is not None
        else None
    )
    if owner is not None and invite.person_id is not None and owner.id != invite.person_id:
        return RedeemOutcome(RedeemStatus.ALREADY_BOUND, person=owner, invite_id=invite.id)

    if invite.person_id is not None:
        in_use = next(
            (
                i
                for i in await identities_of(session=session, person_id=invite.person_id)
                if i.channel == channel and i.external_id != external_id
            ),
            None,
        )
        if in_use is not None and in_use.bound_at > invite.created_at:
            return RedeemOutcome(RedeemStatus.SUPERSEDED, invite_id=invite.id)

    # Claim: exactly one transaction can move the invite from open to used.
    if not await _close(session, invite.id, {"used_at": now}, col(Invite.expires_at) > now):
        current = await _load_invite(session, invite.id)
        return RedeemOutcome(_refusal(current, now) or RedeemStatus.USED, invite_id=invite.id)

    person: Person | None
    if invite.person_id is not None:
        person = await get_person(session=session, person_id=invite.person_id)
        if person is None:  # removed after the invite was made (remove_person revokes, too)
            raise LookupError(f"invite {invite.id} names a removed person")
    elif owner is not None:
        person = owner
    else:
        name = (invite.person_name or display_name or "").strip() or f"{channel}:{external_id}"
        person = await create_person(
            session=session,
            full_name=name[:255],
            now=now,
            language=account.language_code,
            channel=channel,
        )
    assert person.id is not None
    replaced = next(
        (
            i
            for i in await identities_of(session=session, person_id=person.id)
            if i.channel == channel and i.external_id != external_id
        ),
        None,
    )
    if replaced is not None:
        replaced = ChatIdentity(**replaced.model_dump())  # a copy: bind_identity deletes the row
    await bind_identity(
        session=session,
        person_id=person.id,
        account=account,
        now=now,
        actor_person_id=person.id,
    )
    role = (
        None
        if invite.role_kind == INVITE_IDENTITY
        else await grant_role(
            session=session,
            person_id=person.id,
            kind=invite.role_kind,
            unit_id=invite.unit_id,
            now=now,
            actor_person_id=person.id,
            channel=channel,
        )
    )
    await update_rows(
        session, Invite, {"used_by_person_id": person.id}, col(Invite.id) == invite.id
    )
    used = {"person_id": person.id, "role": invite.role_kind, "unit_id": invite.unit_id}
    trail = AuditTrail(now, channel, person.id, "invite")
    await trail.record(session, "invite.redeem", invite.id, new=used)
    unit = (
        None
        if invite.unit_id is None
        else (
            await session.execute(select(Unit).where(col(Unit.id) == invite.unit_id))
        ).scalar_one()
    )
    return RedeemOutcome(
        RedeemStatus.SUCCESS,
        person=person,
        role=role,
        unit=unit,
        invite_id=invite.id,
        replaced=replaced,
    )


async def find_invite(
    *, session: AsyncSession, invite_id: int | None = None, code: str | None = None
) -> Invite | None:
    if invite_id is not None:
        query = select(Invite).where(col(Invite.id) == invite_id)
    elif code is not None and (found := normalise_code(code)) is not None:
        query = select(Invite).where(col(Invite.code_hash) == hash_code(found))
    else:
        return None
    return (await session.execute(query)).scalar_one_or_none()


async def revoke_invite(
    *,
    session: AsyncSession,
    now: datetime,
    invite_id: int | None = None,
    code: str | None = None,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> RevokeStatus:
    """Revoke an unused invite, by id or by its plain code."""
    require_aware(now)
    invite = await find_invite(session=session, invite_id=invite_id, code=code)
    if invite is None or invite.id is None:
        return RevokeStatus.NOT_FOUND
    if not await _close(session, invite.id, {"revoked_at": now}):
        current = await _load_invite(session, invite.id)
        if current.used_at is not None:
            return RevokeStatus.ALREADY_USED
        return RevokeStatus.ALREADY_REVOKED
    trail = AuditTrail(now, channel, actor_person_id, "invite")
    await trail.record(session, "invite.revoke", invite.id)
    return RevokeStatus.REVOKED


class InviteState(StrEnum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class InviteSummary:
    id: int
    role_kind: str
    unit_code: str | None
    unit_name: str | None
    person_name: str | None  # the name it was made for, or the person it is bound to
    created_at: datetime
    expires_at: datetime
    state: InviteState
    used_by: str | None


def invite_state(invite: Invite, now: datetime) -> InviteState:
    refusal = _refusal(invite, now)
    if refusal is RedeemStatus.REVOKED:
        return InviteState.REVOKED
    if refusal is RedeemStatus.USED:
        return InviteState.USED
    if refusal is RedeemStatus.EXPIRED:
        return InviteState.EXPIRED
    return InviteState.OPEN


async def list_invites(
    *, session: AsyncSession, now: datetime, unit_id: int | None = None
) -> list[InviteSummary]:
    """Invites, newest first (never their codes: they are not stored)."""
    user = Person.__table__.alias("used_by")  # type: ignore[attr-defined]
    named = Person.__table__.alias("named")  # type: ignore[attr-defined]
    query = (
        select(Invite, col(Unit.code), col(Unit.name), user.c.full_name, named.c.full_name)
        .outerjoin(Unit, col(Unit.id) == col(Invite.unit_id))
        .outerjoin(user, user.c.id == col(Invite.used_by_person_id))
        .outerjoin(named, named.c.id == col(Invite.person_id))
        .order_by(col(Invite.id).desc())
    )
    if unit_id is not None:
        query = query.where(col(Invite.unit_id) == unit_id)
    rows = (await session.execute(query)).all()
    summaries = []
    for invite, unit_code, unit_name, used_by, bound_to in rows:
        assert invite.id is not None
        summaries.append(
            InviteSummary(
                id=invite.id,
                role_kind=invite.role_kind,
                unit_code=unit_code,
                unit_name=unit_name,
                person_name=invite.person_name or bound_to,
                created_at=invite.created_at,
                expires_at=invite.expires_at,
                state=invite_state(invite, now),
                used_by=used_by,
            )
        )
    return summaries
