"""People import: rows of a CSV/XLSX file (name, phone, role, units) into persons and their
roles, all or nothing (every bad line reported with its number, nothing written)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.access import Scope, TargetRole, collapse_paths, may_act_on
from storage.audit import AuditTrail
from storage.clock import require_aware
from storage.models import (
    CHANNEL_CLI,
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Person,
    Role,
    Unit,
)
from storage.people import CHUNK, _chunks, role_from_word
from storage.planner_stats import analyse_after_bulk
from storage.tree import is_within
from storage.unit_lookup import units_by_code

PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
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
    found = await units_by_code(session=session, codes=sorted(codes))
    return {code: unit.id for code, unit in found.items() if unit.id is not None}


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


async def _outside(
    session: AsyncSession, lines: Sequence[_Line], scope: Scope
) -> list[ImportProblem]:
    """The lines an admin of part of the tree may not import: a role on a unit outside their
    subtrees, a whole-tree admin role, or a phone number of a person they may not act on
    (`storage.access.may_act_on`: a role of that person lies elsewhere)."""
    roots = collapse_paths(scope.admin_paths)
    unit_ids = sorted({u for line in lines for u in line.unit_ids})
    units: dict[int, tuple[str, str]] = {}  # id -> (path, code)
    for chunk in _chunks(unit_ids):
        rows = await session.execute(
            select(col(Unit.id), col(Unit.path), col(Unit.code)).where(col(Unit.id).in_(chunk))
        )
        units.update({int(i or 0): (str(p), str(c)) for i, p, c in rows})
    phones = sorted({line.phone for line in lines if line.phone is not None})
    held: dict[str, list[TargetRole]] = {}
    for chunk in _chunks(phones):
        found = await session.execute(
            select(col(Person.phone), col(Role.kind), col(Role.unit_id), col(Unit.path))
            .outerjoin(Role, col(Role.person_id) == col(Person.id))
            .outerjoin(Unit, col(Unit.id) == col(Role.unit_id))
            .where(col(Person.phone).in_(chunk), col(Person.forgotten_at).is_(None))
        )
        for phone, kind, unit_id, path in found:
            roles = held.setdefault(str(phone), [])
            if kind is not None:
                roles.append((kind, unit_id, path))
    problems: list[ImportProblem] = []
    for line in lines:
        if line.kind == ROLE_ADMIN and not line.unit_ids:
            problems.append(ImportProblem(line.line, "people.import.error.whole_tree_role"))
        for unit_id in line.unit_ids:
            path, code = units[unit_id]
            if not any(is_within(path, root) for root in roots):
                problems.append(
                    ImportProblem(line.line, "people.import.error.not_yours", {"code": code})
                )
        if line.phone in held and not may_act_on(scope, held[line.phone]):
            problems.append(
                ImportProblem(
                    line.line, "people.import.error.person_not_yours", {"phone": line.phone}
                )
            )
    return problems


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
    scope: Scope | None = None,
) -> ImportResult:
    """Import people and their roles from table rows (keys name, phone, role, units; optional
    `line` = the line number in the file, else header = line 1).

    The whole input is validated first; any bad line raises PeopleImportError listing every bad
    line, and nothing is written. A row with a phone updates the person with that phone; a row
    without one matches a person of the same name, no phone, and the same role on the same units.
    Roles are added, never taken away (use set_role / remove_person). With the importing
    admin's `scope` (not whole-tree), a line reaching outside their subtrees is bad too."""
    require_aware(now)
    lines, problems = await _validate(session, rows)
    if scope is not None and not scope.whole_tree:
        problems += await _outside(session, lines, scope)
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
    trail = AuditTrail(now, channel, actor_person_id, "person")
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
            trail.add("person.create", person_id, new=_without_created_at(value))

    for person_id, old_name, new_name in renames:
        await session.execute(
            update(Person)
            .where(col(Person.id) == person_id)
            .values(full_name=new_name)
            .execution_options(synchronize_session=False)
        )
        trail.add(
            "person.rename", person_id, old={"full_name": old_name}, new={"full_name": new_name}
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
                trail.add("role.grant", person_id, new={"kind": kind, "unit_id": unit_id})
    for chunk in _chunks(role_values):
        await session.execute(insert(Role), list(chunk))
    await trail.write(session=session, batch=CHUNK)
    await analyse_after_bulk(
        session=session, tables=("person", "role"), rows=len(new_keys) + len(role_values)
    )

    renamed = {person_id for person_id, _, _ in renames}
    existing_matched = {matched[key] for key in groups if key not in new_keys}
    updated = len({p for p in existing_matched if p in touched or p in renamed})
    return ImportResult(
        created=len(new_keys),
        updated=updated,
        unchanged=len(existing_matched) - updated,
        roles_added=len(role_values),
    )


def _without_created_at(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != "created_at"}
