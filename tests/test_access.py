"""Scopes: who sees which units, decided from the roles as they are now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from storage.access import can_see_unit, collapse_paths, scope_of, visible_units_condition
from storage.db import Database
from storage.models import ROLE_ADMIN, ROLE_REPORTER, ROLE_SUPERVISOR, Unit
from storage.people import remove_person, set_role
from tests.factories import make_levels, make_person, make_unit, pk

# T
# ├── H1
# │   ├── X1
# │   │   └── C1
# │   └── X2
# └── H2
#     └── X3
ALL = {"T", "H1", "X1", "C1", "X2", "H2", "X3"}


async def _tree(db: Database) -> dict[str, Unit]:
    async with db.write() as session:
        await make_levels(session)
        t = await make_unit(session, "T", level="tinh")
        h1 = await make_unit(session, "H1", parent=t, level="huyen")
        h2 = await make_unit(session, "H2", parent=t, level="huyen")
        x1 = await make_unit(session, "X1", parent=h1)
        x2 = await make_unit(session, "X2", parent=h1)
        x3 = await make_unit(session, "X3", parent=h2)
        c1 = await make_unit(session, "C1", parent=x1, level="chi_bo")
    return {u.code: u for u in (t, h1, h2, x1, x2, x3, c1)}


async def _visible(db: Database, person_id: int, units: dict[str, Unit]) -> set[str]:
    """What the person sees, by both routes; they must agree."""
    async with db.read() as session:
        scope = await scope_of(session=session, person_id=person_id)
        in_sql = set(
            (
                await session.execute(select(col(Unit.code)).where(visible_units_condition(scope)))
            ).scalars()
        )
        one_by_one = {
            code
            for code, unit in units.items()
            if await can_see_unit(session=session, person_id=person_id, unit=unit)
        }
    assert in_sql == one_by_one
    return in_sql


async def test_reporter_sees_only_own_unit(db: Database) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(session, roles=[(ROLE_REPORTER, units["X1"])])
    assert await _visible(db, pk(person), units) == {"X1"}


async def test_supervisor_sees_followed_units_and_below_not_siblings(db: Database) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(
            session, roles=[(ROLE_SUPERVISOR, units["X1"]), (ROLE_SUPERVISOR, units["X3"])]
        )
    assert await _visible(db, pk(person), units) == {"X1", "C1", "X3"}


async def test_district_admin_sees_own_subtree_not_another_district(db: Database) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(session, roles=[(ROLE_ADMIN, units["H1"])])
    assert await _visible(db, pk(person), units) == {"H1", "X1", "X2", "C1"}
    async with db.read() as session:
        scope = await scope_of(session=session, person_id=pk(person))
    assert scope.is_admin and not scope.whole_tree


async def test_whole_tree_admin_sees_everything(db: Database) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(session, roles=[(ROLE_ADMIN, None)])
    assert await _visible(db, pk(person), units) == ALL


async def test_no_role_sees_nothing(db: Database) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(session)
    assert await _visible(db, pk(person), units) == set()
    async with db.read() as session:
        assert (await scope_of(session=session, person_id=pk(person))).is_empty


async def test_removed_role_and_removed_person_lose_access_at_once(
    db: Database, now: datetime
) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(
            session, roles=[(ROLE_SUPERVISOR, units["H1"]), (ROLE_REPORTER, units["X3"])]
        )
    assert await _visible(db, pk(person), units) == {"H1", "X1", "X2", "C1", "X3"}
    async with db.write() as session:
        assert await set_role(
            session=session,
            person_id=pk(person),
            kind=ROLE_SUPERVISOR,
            unit_id=units["H1"].id,
            held=False,
            now=now,
        )
    assert await _visible(db, pk(person), units) == {"X3"}
    async with db.write() as session:
        assert await remove_person(session=session, person_id=pk(person), now=now)
    assert await _visible(db, pk(person), units) == set()


async def test_mixed_roles_are_the_union(db: Database) -> None:
    units = await _tree(db)
    async with db.write() as session:
        person = await make_person(
            session,
            roles=[
                (ROLE_ADMIN, units["H2"]),
                (ROLE_SUPERVISOR, units["X1"]),
                (ROLE_REPORTER, units["X2"]),
            ],
        )
    assert await _visible(db, pk(person), units) == {"H2", "X3", "X1", "C1", "X2"}


def test_collapse_paths_drops_nested_roots() -> None:
    assert collapse_paths(["0000000100000002", "00000001", "00000003"]) == (
        "00000001",
        "00000003",
    )
    # a sibling whose id shares a prefix is not nested
    assert collapse_paths(["00000001", "00000010"]) == ("00000001", "00000010")
