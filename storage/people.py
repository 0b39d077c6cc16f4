"""People, their chat identities and their roles.

A person has at most one identity per channel; a chat identity belongs to one person. Roles are
rows: admin over a subtree (unit_id None = the whole tree), supervisor of one unit per row,
reporter of one unit. Removing a role or a person takes effect at once: nothing is cached (see
`storage.access`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.answers import fold
from storage.audit import record, record_many
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
    session.add(person)
    await session.flush()
    assert person.id is not None
    await record(
        session=session,
        now=now,
        channel=channel,
        action="person.create",
        entity="person",
        entity_id=person.id,
        actor_person_id=actor_person_id,
        new={"full_name": person.full_name, "phone": phone},
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
    return (
        await session.execute(
            select(Person)
            .join(ChatIdentity, col(ChatIdentity.person_id) == col(Person.id))
            .where(
                col(ChatIdentity.channel) == channel,
                col(ChatIdentity.external_id) == str(external_id),
                col(Person.forgotten_at).is_(None),
            )
        )
    ).scalar_one_or_none()


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


async def bind_identity(
    *,
    session: AsyncSession,
    person_id: int,
    channel: str,
    external_id: str,
    now: datetime,
    chat_id: str | None = None,
    language_code: str | None = None,
    actor_person_id: int | None = None,
    audit_channel: str | None = None,
) -> ChatIdentity:
    """Bind a chat account to a person, replacing that person's previous account on the channel.

    Raises IdentityBoundElsewhere when the account already belongs to another person."""
    require_aware(now)
    external_id = str(external_id)
    existing = await get_identity(session=session, channel=channel, external_id=external_id)
    if existing is not None and existing.person_id != person_id:
        raise IdentityBoundElsewhere(existing.person_id)
    if existing is not None:
        existing.chat_id = chat_id or existing.chat_id
        existing.language_code = language_code or existing.language_code
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
        chat_id=chat_id,
        language_code=language_code,
        bound_at=now,
        last_seen_at=now,
    )
    session.add(identity)
    await session.flush()
    await record(
        session=session,
        now=now,
        channel=audit_channel or channel,
        action="identity.rebind" if previous is not None else "identity.bind",
        entity="person",
        entity_id=person_id,
        actor_person_id=actor_person_id if actor_person_id is not None else person_id,
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
    *,
    session: AsyncSession,
    channel: str,
    external_id: str,
    now: datetime,
    chat_id: str | None = None,
    language_code: str | None = None,
    seen: ChatIdentity | None = None,
) -> bool:
    """Record that the account was seen now (and its current chat id and client language).

    With `seen` (the account's row as read in this transaction) nothing is written when the
    chat id and language are unchanged and `last_seen_at` is less than `TOUCH_INTERVAL` old:
    most updates then cost no write. True when the row was written."""
    require_aware(now)
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
    await session.execute(
        update(ChatIdentity)
        .where(
            col(ChatIdentity.channel) == channel, col(ChatIdentity.external_id) == str(external_id)
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return True


async def set_preferred_channel(
    *, session: AsyncSession, person_id: int, channel: str | None
) -> None:
    """Where proactive messages go (`CHANNEL_TELEGRAM` / `CHANNEL_ZALO`; None: the channel the
    person wrote from last). Not audited here: the caller records the change it made."""
    await session.execute(
        update(Person)
        .where(col(Person.id) == person_id)
        .values(preferred_channel=channel)
        .execution_options(synchronize_session=False)
    )


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
    check_role(kind, unit_id)
    existing = (
        await session.execute(select(Role).where(*_role_filter(person_id, kind, unit_id)))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    role = Role(person_id=person_id, kind=kind, unit_id=unit_id, created_at=require_aware(now))
    session.add(role)
    await session.flush()
    await record(
        session=session,
        now=now,
        channel=channel,
        action="role.grant",
        entity="person",
        entity_id=person_id,
        actor_person_id=actor_person_id,
        new={"kind": kind, "unit_id": unit_id},
    )
    return role


async def revoke_role(
    *,
    session: AsyncSession,
    person_id: int,
    kind: str,
    unit_id: int | None,
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> bool:
    """Take a role away; True if there was one."""
    result = await session.execute(
        delete(Role)
        .where(*_role_filter(person_id, kind, unit_id))
        .execution_options(synchronize_session=False)
    )
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        await record(
            session=session,
            now=now,
            channel=channel,
            action="role.revoke",
            entity="person",
            entity_id=person_id,
            actor_person_id=actor_person_id,
            old={"kind": kind, "unit_id": unit_id},
        )
    return removed


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
    await session.execute(
        delete(Role)
        .where(col(Role.person_id) == person_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(ChatIdentity)
        .where(col(ChatIdentity.person_id) == person_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Invite)
        .where(
            col(Invite.person_id) == person_id,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
        )
        .values(revoked_at=require_aware(now))
        .execution_options(synchronize_session=False)
    )
    person.forgotten_at = now
    await session.flush()
    await record(
        session=session,
        now=now,
        channel=channel,
        action="person.remove",
        entity="person",
        entity_id=person_id,
        actor_person_id=actor_person_id,
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


# --- import --------------------------------------------------------------------------------

PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
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


IMPORT_COLUMNS = ("name", "phone", "role", "units")


def normalise_phone(value: object) -> str | None:
    """A Vietnamese phone number in its national form (`0912345678`), None when blank.

    Accepts spaces, dots, dashes, brackets, the +84 / 84 prefix, and the leading zero lost when
    a spreadsheet stored the number as a number. Raises ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = PHONE_SEPARATORS.sub("", str(value).strip())
    if not text:
        return None
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) in (11, 12):
        text = "0" + text[2:]
    elif not text.startswith("0") and len(text) in (9, 10):
        text = "0" + text
    if not text.isdigit() or not 10 <= len(text) <= 11 or text.startswith("00"):
        raise ValueError(f"bad phone number {value!r}")
    return text


def split_codes(value: object) -> list[str]:
    """`"A;B, C"` -> `["A", "B", "C"]` (order kept, duplicates dropped)."""
    if value is None:
        return []
    codes: list[str] = []
    for part in re.split(r"[;,]", str(value)):
        code = part.strip()
        if code and code not in codes:
            codes.append(code)
    return codes


@dataclass(frozen=True)
class ImportProblem:
    line: int
    key: str
    params: dict[str, object] = field(default_factory=dict)  # catalog key + its placeholders


class PeopleImportError(Exception):
    """The file has bad lines; nothing was written."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        super().__init__(f"{len(problems)} bad line(s)")
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    roles_added: int


@dataclass
class _Line:
    line: int
    name: str
    phone: str | None
    kind: str
    unit_ids: tuple[int, ...]


def _cell(row: Mapping[str, object], key: str) -> object:
    value = row.get(key)
    return value.strip() if isinstance(value, str) else value


async def _unit_ids_by_code(session: AsyncSession, codes: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(codes)
    for chunk in _chunks(ordered):
        rows: Any = await session.execute(
            select(col(Unit.code), col(Unit.id)).where(col(Unit.code).in_(chunk))
        )
        found.update({code: unit_id for code, unit_id in rows})
    return found


async def _validate(
    session: AsyncSession, rows: Sequence[Mapping[str, object]]
) -> tuple[list[_Line], list[ImportProblem]]:
    problems: list[ImportProblem] = []
    all_codes = {code for row in rows for code in split_codes(_cell(row, "units"))}
    units = await _unit_ids_by_code(session, all_codes)
    lines: list[_Line] = []
    names_by_phone: dict[str, tuple[str, int]] = {}
    for index, row in enumerate(rows):
        line_no = int(str(row.get("line") or index + 2))
        bad = False
        name = str(_cell(row, "name") or "").strip()
        if not name:
            problems.append(ImportProblem(line_no, "people.import.error.missing_name"))
            bad = True
        raw_phone = _cell(row, "phone")
        phone: str | None = None
        try:
            phone = normalise_phone(raw_phone)
        except ValueError:
            problems.append(
                ImportProblem(line_no, "people.import.error.bad_phone", {"phone": raw_phone})
            )
            bad = True
        raw_role = str(_cell(row, "role") or "").strip()
        kind = role_from_word(raw_role)
        if kind is None:
            problems.append(
                ImportProblem(line_no, "people.import.error.unknown_role", {"role": raw_role})
            )
            bad = True
        codes = split_codes(_cell(row, "units"))
        unknown = [code for code in codes if code not in units]
        for code in unknown:
            problems.append(
                ImportProblem(line_no, "people.import.error.unknown_unit", {"code": code})
            )
            bad = True
        if kind == ROLE_REPORTER and len(codes) != 1:
            problems.append(
                ImportProblem(line_no, "people.import.error.reporter_units", {"count": len(codes)})
            )
            bad = True
        elif kind == ROLE_ADMIN and len(codes) > 1:
            problems.append(
                ImportProblem(line_no, "people.import.error.admin_units", {"count": len(codes)})
            )
            bad = True
        elif kind == ROLE_SUPERVISOR and not codes:
            problems.append(ImportProblem(line_no, "people.import.error.supervisor_units"))
            bad = True
        if phone is not None and name:
            seen = names_by_phone.setdefault(phone, (name, line_no))
            if seen[0] != name:
                problems.append(
                    ImportProblem(
                        line_no,
                        "people.import.error.phone_conflict",
                        {"phone": phone, "other": seen[1]},
                    )
                )
                bad = True
        if not bad:
            assert kind is not None
            lines.append(_Line(line_no, name, phone, kind, tuple(units[c] for c in codes)))
    return lines, problems


def _role_keys(line: _Line) -> list[tuple[str, int | None]]:
    if line.kind == ROLE_ADMIN and not line.unit_ids:
        return [(ROLE_ADMIN, None)]
    return [(line.kind, unit_id) for unit_id in line.unit_ids]


async def _roles_by_person(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, set[tuple[str, int | None]]]:
    result: dict[int, set[tuple[str, int | None]]] = {}
    for chunk in _chunks(list(person_ids)):
        rows = await session.execute(
            select(col(Role.person_id), col(Role.kind), col(Role.unit_id)).where(
                col(Role.person_id).in_(chunk)
            )
        )
        for person_id, kind, unit_id in rows:
            result.setdefault(person_id, set()).add((kind, unit_id))
    return result


async def import_people(
    *,
    session: AsyncSession,
    rows: Sequence[Mapping[str, object]],
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
) -> ImportResult:
    """Import people and their roles from table rows (keys name, phone, role, units; optional
    `line` = the line number in the file, else header = line 1).

    The whole input is validated first; any bad line raises PeopleImportError listing every bad
    line, and nothing is written. A row with a phone updates the person with that phone; a row
    without one matches a person of the same name, no phone, and the same role on the same units.
    Roles are added, never taken away (use revoke_role / remove_person)."""
    require_aware(now)
    lines, problems = await _validate(session, rows)
    if problems:
        raise PeopleImportError(sorted(problems, key=lambda p: p.line))

    # Group lines into persons: by phone, else by (name, role, units).
    groups: dict[tuple[str, ...], list[_Line]] = {}
    for line in lines:
        if line.phone is not None:
            key: tuple[str, ...] = ("phone", line.phone)
        else:
            key = ("name", line.name, line.kind, ",".join(map(str, sorted(line.unit_ids))))
        groups.setdefault(key, []).append(line)

    phones = sorted({key[1] for key in groups if key[0] == "phone"})
    by_phone: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(phones):
        by_phone_rows: Any = await session.execute(
            select(col(Person.phone), col(Person.id), col(Person.full_name))
            .where(col(Person.phone).in_(chunk), col(Person.forgotten_at).is_(None))
            .order_by(col(Person.id).desc())
        )
        for phone, person_id, full_name in by_phone_rows:
            by_phone[phone] = (person_id, full_name)

    nameless_names = sorted({key[1] for key in groups if key[0] == "name"})
    candidates: dict[str, list[int]] = {}
    for chunk in _chunks(nameless_names):
        name_rows: Any = await session.execute(
            select(col(Person.full_name), col(Person.id)).where(
                col(Person.full_name).in_(chunk),
                col(Person.phone).is_(None),
                col(Person.forgotten_at).is_(None),
            )
        )
        for full_name, person_id in name_rows:
            candidates.setdefault(full_name, []).append(person_id)
    existing_roles = await _roles_by_person(
        session,
        [pid for pid, _ in by_phone.values()] + [p for ids in candidates.values() for p in ids],
    )

    matched: dict[tuple[str, ...], int] = {}
    renames: list[tuple[int, str, str]] = []
    for key, group in groups.items():
        first = group[0]
        if key[0] == "phone":
            hit = by_phone.get(first.phone or "")
            if hit is not None:
                matched[key] = hit[0]
                if hit[1] != first.name:
                    renames.append((hit[0], hit[1], first.name))
            continue
        wanted = set(_role_keys(first))
        for person_id in candidates.get(first.name, []):
            held = {r for r in existing_roles.get(person_id, set()) if r[0] == first.kind}
            if held == wanted:
                matched[key] = person_id
                break

    new_keys = [key for key in groups if key not in matched]
    audit_rows: list[dict[str, Any]] = []
    if new_keys:
        values = [
            {"full_name": groups[key][0].name, "phone": groups[key][0].phone, "created_at": now}
            for key in new_keys
        ]
        created_ids: list[int] = []
        for chunk in _chunks(values):
            result: Any = await session.execute(
                insert(Person).returning(col(Person.id), sort_by_parameter_order=True),
                list(chunk),
            )
            created_ids.extend(result.scalars())
        for key, person_id, value in zip(new_keys, created_ids, values, strict=True):
            matched[key] = person_id
            audit_rows.append(
                _audit_row(now, channel, actor_person_id, "person.create", person_id, None, value)
            )

    for person_id, old_name, new_name in renames:
        await session.execute(
            update(Person)
            .where(col(Person.id) == person_id)
            .values(full_name=new_name)
            .execution_options(synchronize_session=False)
        )
        audit_rows.append(
            _audit_row(
                now,
                channel,
                actor_person_id,
                "person.rename",
                person_id,
                {"full_name": old_name},
                {"full_name": new_name},
            )
        )

    role_values: list[dict[str, Any]] = []
    touched: set[int] = set()
    for key, group in groups.items():
        person_id = matched[key]
        held = existing_roles.setdefault(person_id, set())
        for line in group:
            for kind, unit_id in _role_keys(line):
                if (kind, unit_id) in held:
                    continue
                held.add((kind, unit_id))
                touched.add(person_id)
                role_values.append(
                    {"person_id": person_id, "kind": kind, "unit_id": unit_id, "created_at": now}
                )
                audit_rows.append(
                    _audit_row(
                        now,
                        channel,
                        actor_person_id,
                        "role.grant",
                        person_id,
                        None,
                        {"kind": kind, "unit_id": unit_id},
                    )
                )
    for chunk in _chunks(role_values):
        await session.execute(insert(Role), list(chunk))
    for chunk in _chunks(audit_rows):
        await record_many(session=session, rows=list(chunk))

    renamed = {person_id for person_id, _, _ in renames}
    existing_matched = {matched[key] for key in groups if key not in new_keys}
    updated = len({p for p in existing_matched if p in touched or p in renamed})
    return ImportResult(
        created=len(new_keys),
        updated=updated,
        unchanged=len(existing_matched) - updated,
        roles_added=len(role_values),
    )


def _audit_row(
    now: datetime,
    channel: str,
    actor: int | None,
    action: str,
    person_id: int,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": now,
        "channel": channel,
        "actor_person_id": actor,
        "action": action,
        "entity": "person",
        "entity_id": person_id,
        "old": old,
        "new": None if new is None else {k: v for k, v in new.items() if k != "created_at"},
    }
