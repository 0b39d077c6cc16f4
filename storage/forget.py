"""Forget a person (data protection): remove their identities and personal data, keep the unit's
reports.

What goes: the person's chat identities (every channel), roles, phone, language, preferred
channel, unreachable marks, open draft, unused invites addressed to them and the files kept for
their download links (`storage.kept_files`); their name is replaced by `FORGOTTEN_NAME` and
`forgotten_at` is set. The row itself stays so that report versions, audit rows and outbox rows
keep pointing at an id: wherever a name is shown (the export's history sheet, digests) the
forgotten person reads "đã xóa".

What is scrubbed in place: audit rows about the person (their `old`/`new` JSON lose the name,
phone and chat account ids), throttled `/start` attempts from their chat accounts (the account
id in `entity_id` is replaced), invites naming them (`person_name`), and outbox rows (their own
lose the chat id; any payload quoting their name, a nudge "from" them for instance, has it
replaced). Report versions are untouched: a report belongs to its unit. Evidence the person
attached goes where the file belongs to them alone (nobody else attached the same file,
`storage.evidence.forget_evidence`); the caller deletes those files after the commit
(`ForgetResult.evidence_hashes`, `storage.evidence.remove_unreferenced`).

Matching by substring is done for the name and the phone only; chat account ids are short
numbers, so they are scrubbed only where a value IS the account id (never inside other text).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.audit import AuditTrail
from storage.clock import require_aware
from storage.evidence import forget_evidence
from storage.models import (
    CHANNEL_CLI,
    AuditLog,
    ChatIdentity,
    Draft,
    Invite,
    KeptFile,
    Outbox,
    Person,
    ProcessedUpdate,
    Role,
)
from storage.rows import delete_rows, update_rows

FORGOTTEN_NAME = "đã xóa"
# Audit entities keyed by a chat account id (storage.attempts: failed /start attempts).
ACCOUNT_ENTITIES = ("telegram_account", "zalo_account")
# JSON keys whose value is personal data of the person an audit row is about.
PERSONAL_KEYS = frozenset({"full_name", "name", "person_name", "phone", "display_name"})
ACCOUNT_KEYS = frozenset({"external_id", "chat_id"})


@dataclass(frozen=True)
class ForgetResult:
    found: bool
    identities: int = 0
    roles: int = 0
    drafts: int = 0
    invites_deleted: int = 0
    audit_rows_scrubbed: int = 0
    outbox_rows_scrubbed: int = 0
    evidence_removed: int = 0
    evidence_hashes: tuple[str, ...] = ()  # files to delete after the commit

    def counts(self) -> dict[str, int]:
        """What went or was scrubbed, by kind (the "person.forget" audit row's `new`)."""
        return {k: v for k, v in asdict(self).items() if k not in ("found", "evidence_hashes")}


@dataclass(frozen=True)
class _Secrets:
    """What must disappear: texts replaced inside strings, account ids replaced where exact."""

    texts: tuple[str, ...]
    accounts: frozenset[str]

    def scrub(self, value: Any, *, about_person: bool) -> Any:
        """`value` with every secret replaced; with `about_person`, personal keys blanked."""
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for key, item in value.items():
                if about_person and key in PERSONAL_KEYS and item is not None:
                    result[key] = FORGOTTEN_NAME if key != "phone" else None
                elif key in ACCOUNT_KEYS and item is not None and str(item) in self.accounts:
                    result[key] = None
                else:
                    result[key] = self.scrub(item, about_person=about_person)
            return result
        if isinstance(value, list):
            return [self.scrub(item, about_person=about_person) for item in value]
        if isinstance(value, str):
            if value in self.accounts:
                return FORGOTTEN_NAME
            for text in self.texts:
                value = value.replace(text, FORGOTTEN_NAME)
            return value
        return value


def _account_values(value: Any) -> set[str]:
    """Values under `external_id` / `chat_id` anywhere in an audit JSON value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ACCOUNT_KEYS and item is not None and not isinstance(item, dict | list):
                found.add(str(item))
            else:
                found |= _account_values(item)
    elif isinstance(value, list):
        for item in value:
            found |= _account_values(item)
    return found


async def _past_accounts(session: AsyncSession, person_id: int) -> set[str]:
    """Chat accounts the person had (also those already unbound by a removal or a rebind), from
    the audit rows about them and their outbox rows."""
    rows = await session.execute(
        select(col(AuditLog.old), col(AuditLog.new)).where(
            col(AuditLog.entity) == "person", col(AuditLog.entity_id) == str(person_id)
        )
    )
    found: set[str] = set()
    for old, new in rows.all():
        found |= _account_values(old) | _account_values(new)
    chats = await session.execute(
        select(col(Outbox.chat_id))
        .where(col(Outbox.person_id) == person_id, col(Outbox.chat_id).is_not(None))
        .distinct()
    )
    found |= {str(chat) for chat in chats.scalars()}
    return found


def _mentions(column: Any, texts: Sequence[str]) -> ColumnElement[bool] | None:
    """SQL: the JSON column's text contains one of `texts` (raw, as PostgreSQL prints JSONB, or
    \\u-escaped, as the default JSON serializer stores it on SQLite)."""
    needles: set[str] = set()
    for text in texts:
        needles.add(text)
        needles.add(json.dumps(text)[1:-1])
    if not needles:
        return None
    as_text = cast(column, String)
    return or_(*(as_text.contains(needle, autoescape=True) for needle in sorted(needles)))


async def _scrub_audit(
    session: AsyncSession, person_id: int, secrets: _Secrets, invite_ids: Sequence[int]
) -> int:
    about_person = [
        (col(AuditLog.entity) == "person") & (col(AuditLog.entity_id) == str(person_id))
    ]
    if invite_ids:
        about_person.append(
            (col(AuditLog.entity) == "invite")
            & col(AuditLog.entity_id).in_([str(i) for i in invite_ids])
        )
    conditions: list[ColumnElement[bool]] = list(about_person)
    for column in (AuditLog.old, AuditLog.new):
        mention = _mentions(col(column), secrets.texts)
        if mention is not None:
            conditions.append(mention)
    rows = (
        await session.execute(
            select(
                col(AuditLog.id),
                col(AuditLog.entity),
                col(AuditLog.entity_id),
                col(AuditLog.old),
                col(AuditLog.new),
            ).where(or_(*conditions))
        )
    ).all()
    changed = 0
    for row_id, entity, entity_id, old, new in rows:
        personal = entity == "person" and entity_id == str(person_id)
        clean_old = secrets.scrub(old, about_person=personal)
        clean_new = secrets.scrub(new, about_person=personal)
        if clean_old != old or clean_new != new:
            await update_rows(
                session, AuditLog, {"old": clean_old, "new": clean_new}, col(AuditLog.id) == row_id
            )
            changed += 1
    if secrets.accounts:
        changed += await update_rows(
            session,
            AuditLog,
            {"entity_id": f"forgotten:{person_id}"},
            col(AuditLog.entity).in_(ACCOUNT_ENTITIES),
            col(AuditLog.entity_id).in_(sorted(secrets.accounts)),
        )
    return changed


async def _scrub_outbox(session: AsyncSession, person_id: int, secrets: _Secrets) -> int:
    conditions: list[ColumnElement[bool]] = [col(Outbox.person_id) == person_id]
    if secrets.accounts:
        conditions.append(col(Outbox.chat_id).in_(sorted(secrets.accounts)))
    mention = _mentions(col(Outbox.payload), secrets.texts)
    if mention is not None:
        conditions.append(mention)
    rows = (
        await session.execute(
            select(
                col(Outbox.id), col(Outbox.person_id), col(Outbox.chat_id), col(Outbox.payload)
            ).where(or_(*conditions))
        )
    ).all()
    changed = 0
    for row_id, owner, chat_id, payload in rows:
        values: dict[str, Any] = {}
        clean = secrets.scrub(payload, about_person=False)
        if clean != payload:
            values["payload"] = clean
        if chat_id is not None and (owner == person_id or str(chat_id) in secrets.accounts):
            values["chat_id"] = None
            if owner is None:  # a row needs a person or a chat: keep it addressed to them
                values["person_id"] = person_id
        if values:
            await update_rows(session, Outbox, values, col(Outbox.id) == row_id)
            changed += 1
    return changed


async def _scrub_replies(session: AsyncSession, secrets: _Secrets) -> int:
    """Replies stored with processed updates (re-sent on a replay, pruned after 7 days): those
    sent to the person's accounts are dropped, others lose the person's name and phone."""
    mention = _mentions(col(ProcessedUpdate.replies), [*secrets.texts, *secrets.accounts])
    if mention is None:
        return 0
    found = select(
        col(ProcessedUpdate.channel), col(ProcessedUpdate.update_id), col(ProcessedUpdate.replies)
    ).where(col(ProcessedUpdate.replies).is_not(None), mention)
    rows = (await session.execute(found)).all()
    changed = 0
    for channel, update_id, replies in rows:
        to_them = any(
            str(reply.get("chat_id")) in secrets.accounts
            for reply in replies or []
            if isinstance(reply, dict)
        )
        clean = None if to_them else secrets.scrub(replies, about_person=False)
        if clean != replies:
            await update_rows(
                session,
                ProcessedUpdate,
                {"replies": clean},
                col(ProcessedUpdate.channel) == channel,
                col(ProcessedUpdate.update_id) == update_id,
            )
            changed += 1
    return changed


async def forget_person(
    *,
    session: AsyncSession,
    person_id: int,
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> ForgetResult:
    """Forget the person (also one already removed). Reports and versions stay with the unit;
    see the module docstring for what goes. Audited as "person.forget" (ids and counts only)."""
    require_aware(now)
    person = await session.get(Person, person_id, with_for_update=True)
    if person is None:
        return ForgetResult(found=False)
    identities = list(
        (
            await session.execute(
                select(col(ChatIdentity.external_id), col(ChatIdentity.chat_id)).where(
                    col(ChatIdentity.person_id) == person_id
                )
            )
        ).all()
    )
    accounts = {str(v) for row in identities for v in row if v}
    accounts |= await _past_accounts(session, person_id)
    texts = [
        t
        for t in (person.full_name.strip(), (person.phone or "").strip())
        if t and t != FORGOTTEN_NAME
    ]
    secrets = _Secrets(texts=tuple(texts), accounts=frozenset(accounts))

    invite_ids = [
        int(i)
        for i in (
            await session.execute(
                select(col(Invite.id)).where(
                    or_(
                        col(Invite.person_id) == person_id,
                        col(Invite.used_by_person_id) == person_id,
                    )
                )
            )
        ).scalars()
        if i is not None
    ]

    roles = await delete_rows(session, Role, col(Role.person_id) == person_id)
    gone = await delete_rows(session, ChatIdentity, col(ChatIdentity.person_id) == person_id)
    evidence, hashes = await forget_evidence(session=session, person_id=person_id)
    drafts = await delete_rows(session, Draft, col(Draft.person_id) == person_id)
    await delete_rows(session, KeptFile, col(KeptFile.person_id) == person_id)
    unused = await delete_rows(
        session, Invite, col(Invite.person_id) == person_id, col(Invite.used_at).is_(None)
    )
    naming = [col(Invite.person_id) == person_id, col(Invite.used_by_person_id) == person_id]
    if texts:
        naming.append(col(Invite.person_name).in_(texts))
    await update_rows(
        session, Invite, {"person_name": None}, or_(*naming), col(Invite.person_name).is_not(None)
    )
    audit_rows = await _scrub_audit(session, person_id, secrets, invite_ids)
    outbox_rows = await _scrub_outbox(session, person_id, secrets)
    await _scrub_replies(session, secrets)

    await update_rows(
        session,
        Person,
        {
            "full_name": FORGOTTEN_NAME,
            "phone": None,
            "language": None,
            "preferred_channel": None,
            "unreachable_at": None,
            "unreachable_reason": None,
            "forgotten_at": person.forgotten_at or now,
        },
        col(Person.id) == person_id,
    )
    await session.refresh(person)
    result = ForgetResult(
        found=True,
        identities=gone,
        roles=roles,
        drafts=drafts,
        invites_deleted=unused,
        audit_rows_scrubbed=audit_rows,
        outbox_rows_scrubbed=outbox_rows,
        evidence_removed=evidence,
        evidence_hashes=tuple(hashes),
    )
    trail = AuditTrail(now, channel, actor_person_id, "person")
    await trail.record(session, "person.forget", person_id, new=result.counts())
    return result
