"""People, identities, roles, removal, and the people import (all or nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from storage.db import Database
from storage.models import (
    CHANNEL_TELEGRAM,
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    AuditLog,
    ChatIdentity,
    Person,
    Role,
    Unit,
)
from storage.people import (
    ChatAccount,
    IdentityBoundElsewhere,
    bind_identity,
    find_person_by_identity,
    grant_role,
    list_people,
    remove_person,
    roles_of,
    set_role,
    touch_identity,
)
from storage.people_import import PeopleImportError, import_people, normalise_phone, split_codes
from tests.factories import make_levels, make_person, make_unit, pk


async def _tree(db: Database) -> dict[str, Unit]:
    async with db.write() as session:
        await make_levels(session)
        t = await make_unit(session, "T", level="tinh")
        h1 = await make_unit(session, "H1", parent=t, level="huyen")
        h2 = await make_unit(session, "H2", parent=t, level="huyen")
        x1 = await make_unit(session, "X1", parent=h1)
        x2 = await make_unit(session, "X2", parent=h1)
        x3 = await make_unit(session, "X3", parent=h2)
    return {u.code: u for u in (t, h1, h2, x1, x2, x3)}


async def _count(db: Database, model: type) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_identity_binding_touch_and_forgotten_person(db: Database, now: datetime) -> None:
    async with db.write() as session:
        a = await make_person(session, "Nguyễn Văn A")
        b = await make_person(session, "Trần Thị B")
        await bind_identity(
            session=session, person_id=pk(a), account=ChatAccount(CHANNEL_TELEGRAM, "42"), now=now
        )
        with pytest.raises(IdentityBoundElsewhere):
            await bind_identity(
                session=session,
                person_id=pk(b),
                account=ChatAccount(CHANNEL_TELEGRAM, "42"),
                now=now,
            )
    later = now + timedelta(days=1)
    async with db.write() as session:
        await touch_identity(
            session=session, account=ChatAccount(CHANNEL_TELEGRAM, "42", "-100", "en"), now=later
        )
    async with db.read() as session:
        identity = (await session.execute(select(ChatIdentity))).scalar_one()
        assert (identity.last_seen_at, identity.chat_id, identity.language_code) == (
            later,
            "-100",
            "en",
        )
        found = await find_person_by_identity(
            session=session, channel=CHANNEL_TELEGRAM, external_id="42"
        )
        assert found is not None and found.id == a.id
    async with db.write() as session:
        await session.execute(
            Person.__table__.update().where(Person.__table__.c.id == a.id).values(forgotten_at=now)  # type: ignore[attr-defined]
        )
    async with db.read() as session:
        assert (
            await find_person_by_identity(
                session=session, channel=CHANNEL_TELEGRAM, external_id="42"
            )
            is None
        )


async def test_set_role_says_whether_it_changed_anything(db: Database, now: datetime) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(session)
        follows = {"person_id": pk(person), "kind": ROLE_SUPERVISOR, "unit_id": units["X1"].id}
        changes = [
            await set_role(session=session, held=held, now=now, **follows)
            for held in (True, True, False, False)
        ]
        with pytest.raises(ValueError, match="needs a unit"):
            await set_role(
                session=session,
                person_id=pk(person),
                kind=ROLE_REPORTER,
                unit_id=None,
                held=True,
                now=now,
            )
    assert changes == [True, False, True, False]
    async with db.read() as session:
        actions = await session.execute(select(col(AuditLog.action)).order_by(col(AuditLog.id)))
        assert list(actions.scalars()) == ["role.grant", "role.revoke"]


async def test_grant_is_idempotent_revoke_and_remove_are_audited(
    db: Database, now: datetime
) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(session)
        for _ in range(2):
            await grant_role(
                session=session,
                person_id=pk(person),
                kind=ROLE_SUPERVISOR,
                unit_id=units["X1"].id,
                now=now,
            )
        await grant_role(
            session=session, person_id=pk(person), kind=ROLE_ADMIN, unit_id=None, now=now
        )
        await grant_role(
            session=session, person_id=pk(person), kind=ROLE_ADMIN, unit_id=None, now=now
        )
        with pytest.raises(ValueError, match="needs a unit"):
            await grant_role(
                session=session, person_id=pk(person), kind=ROLE_REPORTER, unit_id=None, now=now
            )
        await bind_identity(
            session=session,
            person_id=pk(person),
            account=ChatAccount(CHANNEL_TELEGRAM, "9"),
            now=now,
        )
    async with db.read() as session:
        assert len(await roles_of(session=session, person_id=pk(person))) == 2
    async with db.write() as session:
        admin = {"person_id": pk(person), "kind": ROLE_ADMIN, "unit_id": None, "now": now}
        assert await set_role(session=session, held=False, **admin)
        assert not await set_role(session=session, held=False, **admin)
        assert await remove_person(session=session, person_id=pk(person), now=now)
        assert not await remove_person(session=session, person_id=pk(person), now=now)
    assert await _count(db, Role) == 0
    assert await _count(db, ChatIdentity) == 0
    async with db.read() as session:
        actions = list(
            (
                await session.execute(select(col(AuditLog.action)).order_by(col(AuditLog.id)))
            ).scalars()
        )
        assert await list_people(session=session) == []
    assert actions == [
        "role.grant",
        "role.grant",
        "identity.bind",
        "role.revoke",
        "person.remove",
    ]


def test_phone_and_unit_list_parsing() -> None:
    assert normalise_phone("0912 345 678") == "0912345678"
    assert normalise_phone("+84 912.345.678") == "0912345678"
    assert normalise_phone(912345678) == "0912345678"  # spreadsheet dropped the zero
    assert normalise_phone("024 3825 1234") == "02438251234"
    assert normalise_phone("  ") is None
    for bad in ("0912", "09123456789012", "abc", "0912-345-67x"):
        with pytest.raises(ValueError):
            normalise_phone(bad)
    assert split_codes("X1; X2,X3 ,X1") == ["X1", "X2", "X3"]
    assert split_codes(None) == []


GOOD: list[dict[str, object]] = [
    {"name": "Nguyễn Văn An", "phone": "0912 345 678", "role": "reporter", "units": "X1"},
    {"name": "Nguyễn Văn An", "phone": "0912345678", "role": "supervisor", "units": "X2;X3"},
    {"name": "Trần Thị Bình", "phone": "", "role": "supervisor", "units": "H1, H2"},
    {"name": "Lê Văn Cường", "phone": None, "role": "admin", "units": ""},
    {"name": "Phạm Thị Dung", "phone": "0987654321", "role": "Quản trị", "units": "H2"},
]


async def test_import_people_and_reimport_is_an_upsert(db: Database, now: datetime) -> None:
    units = await _tree(db)
    async with db.write() as session:
        result = await import_people(session=session, rows=GOOD, now=now)
    assert (result.created, result.updated, result.roles_added) == (4, 0, 7)
    async with db.read() as session:
        people = {p.full_name: p for p in await list_people(session=session)}
    assert set(people) == {"Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung"}
    assert people["Nguyễn Văn An"].phone == "0912345678"
    assert set(people["Nguyễn Văn An"].roles) == {
        (ROLE_REPORTER, "X1"),
        (ROLE_SUPERVISOR, "X2"),
        (ROLE_SUPERVISOR, "X3"),
    }
    assert people["Lê Văn Cường"].roles == ((ROLE_ADMIN, None),)
    assert people["Phạm Thị Dung"].roles == ((ROLE_ADMIN, "H2"),)

    # Same file again: nothing new. A renamed person (same phone) and one more unit are updated.
    async with db.write() as session:
        again = await import_people(session=session, rows=GOOD, now=now)
    assert (again.created, again.updated, again.unchanged, again.roles_added) == (0, 0, 4, 0)
    changed: list[dict[str, object]] = [
        {"name": "Nguyễn Văn Ân", "phone": "+84912345678", "role": "reporter", "units": "X1"},
        {"name": "Trần Thị Bình", "phone": "", "role": "supervisor", "units": "H1;H2;X1"},
    ]
    async with db.write() as session:
        third = await import_people(session=session, rows=changed, now=now)
    # Bình with a different unit set is a different (name, role, units) key: a new person.
    assert (third.created, third.updated, third.roles_added) == (1, 1, 3)
    assert await _count(db, Person) == 5
    async with db.read() as session:
        under_x1 = {
            p.full_name for p in await list_people(session=session, under_path=units["X1"].path)
        }
    assert under_x1 == {"Nguyễn Văn Ân", "Trần Thị Bình"}


async def test_import_with_bad_lines_lists_each_and_writes_nothing(
    db: Database, now: datetime
) -> None:
    await _tree(db)
    rows: list[dict[str, object]] = [
        *GOOD,  # lines 2-6 are fine
        {"name": "", "phone": "", "role": "reporter", "units": "X1"},  # 7: no name
        {"name": "A", "phone": "", "role": "boss", "units": "X1"},  # 8: unknown role
        {"name": "B", "phone": "", "role": "reporter", "units": "NOPE"},  # 9: unknown unit
        {"name": "C", "phone": "", "role": "reporter", "units": ""},  # 10: reporter, no unit
        {"name": "D", "phone": "", "role": "reporter", "units": "X1;X2"},  # 11: two units
        {"name": "E", "phone": "12ab", "role": "reporter", "units": "X1"},  # 12: bad phone
        {"name": "F", "phone": "", "role": "admin", "units": "H1;H2"},  # 13: admin, two units
        {"name": "G", "phone": "", "role": "supervisor", "units": ""},  # 14: supervisor, none
        {"name": "Khác", "phone": "0912345678", "role": "reporter", "units": "X2"},  # 15
    ]
    with pytest.raises(PeopleImportError) as caught:
        async with db.write() as session:
            await import_people(session=session, rows=rows, now=now)
    problems = caught.value.problems
    assert sorted({p.line for p in problems}) == list(range(7, 16))
    keys = {p.line: p.key for p in problems}
    assert keys[7] == "people.import.error.missing_name"
    assert keys[8] == "people.import.error.unknown_role"
    assert keys[9] == "people.import.error.unknown_unit"
    assert keys[10] == keys[11] == "people.import.error.reporter_units"
    assert keys[12] == "people.import.error.bad_phone"
    assert keys[13] == "people.import.error.admin_units"
    assert keys[14] == "people.import.error.supervisor_units"
    assert keys[15] == "people.import.error.phone_conflict"
    assert await _count(db, Person) == 0
    assert await _count(db, Role) == 0
    assert await _count(db, AuditLog) == 0


async def test_import_uses_given_line_numbers(db: Database, now: datetime) -> None:
    await _tree(db)
    rows: list[dict[str, object]] = [
        {"line": 40, "name": "X", "phone": "", "role": "reporter", "units": "ZZ"}
    ]
    with pytest.raises(PeopleImportError) as caught:
        async with db.write() as session:
            await import_people(session=session, rows=rows, now=now)
    assert [(p.line, p.params) for p in caught.value.problems] == [(40, {"code": "ZZ"})]


def test_role_words_from_files_and_chat_are_one_rule() -> None:
    from storage.people import role_from_word

    for word in ("Báo cáo", "bao cao", "bíthư", "BI THU", "reporter"):
        assert role_from_word(word) == "reporter", word
    for word in ("Theo dõi", "giám sát", "supervisor"):
        assert role_from_word(word) == "supervisor", word
    for word in ("Quản trị", "quantri", "admin"):
        assert role_from_word(word) == "admin", word
    assert role_from_word("thư ký") is None
