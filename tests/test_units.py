"""The unit tree: import (create, update, move, deactivate), subtree queries, validation."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlmodel import col

from storage.db import Database
from storage.models import AuditLog, Level, Unit
from storage.tree import depth_of, segment
from storage.unit_import import UnitImportError, UnitRow
from storage.units import (
    DEFAULT_LEVELS,
    ImportResult,
    UnitNotFound,
    ensure_default_levels,
    get_unit,
    import_units,
    subtree_units,
    validate_units,
)


def row(
    code: str,
    parent: str | None = None,
    level: str = "chi_bo",
    *,
    name: str | None = None,
    members: int | None = 10,
    active: bool | None = None,
    line: int = 0,
) -> UnitRow:
    label = f"Đơn vị {code}" if name is None else name
    return UnitRow(line, code, label, level, parent, members, active)


def numbered(rows: list[UnitRow]) -> list[UnitRow]:
    """Give rows the line numbers they would have in a file (header on line 1)."""
    return [
        UnitRow(i, r.code, r.name, r.level, r.parent_code, r.members, r.active)
        for i, r in enumerate(rows, start=2)
    ]


# T1 ─ H1 ─ C1 ─ B1, B2
#    │    └ C2
#    └ H2 ─ C3
# T2 ─ H3
TREE = [
    row("T1", None, "tinh"),
    row("H1", "T1", "huyen"),
    row("H2", "T1", "huyen"),
    row("C1", "H1", "co_so"),
    row("C2", "H1", "co_so"),
    row("C3", "H2", "co_so"),
    row("B1", "C1"),
    row("B2", "C1"),
    row("T2", None, "tinh"),
    row("H3", "T2", "huyen"),
]


async def _import(db: Database, rows: list[UnitRow], now: datetime) -> ImportResult:
    async with db.write() as session:
        await ensure_default_levels(session=session)
        return await import_units(session=session, rows=numbered(rows), now=now)


async def _units(db: Database) -> dict[str, Unit]:
    async with db.read() as session:
        return {u.code: u for u in (await session.execute(select(Unit))).scalars()}


async def _count(db: Database, model: type[Unit] | type[AuditLog]) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def _assert_consistent(units: dict[str, Unit]) -> None:
    by_id = {u.id: u for u in units.values()}
    for unit in units.values():
        assert unit.id is not None
        parent = by_id[unit.parent_id] if unit.parent_id is not None else None
        expected = (parent.path if parent else "") + segment(unit.id)
        assert unit.path == expected, unit.code
        assert unit.depth == depth_of(unit.path) == (parent.depth + 1 if parent else 0)


async def test_default_levels_are_inserted_once_and_kept(db: Database) -> None:
    async with db.write() as session:
        await ensure_default_levels(session=session)
        level = await session.get(Level, "huyen")
        assert level is not None
        level.label_vi = "Cấp huyện và tương đương"
    async with db.write() as session:
        await ensure_default_levels(session=session)
    async with db.read() as session:
        levels = {lv.code: lv for lv in (await session.execute(select(Level))).scalars()}
    assert set(levels) == {code for code, *_ in DEFAULT_LEVELS}
    assert levels["tinh"].label_vi == "Cấp tỉnh"
    assert levels["chi_bo"].rank == 3
    assert levels["huyen"].label_vi == "Cấp huyện và tương đương"


async def test_import_builds_the_tree_parents_first_whatever_the_file_order(
    db: Database, now: datetime
) -> None:
    result = await _import(db, list(reversed(TREE)), now)
    assert result == ImportResult(created=10)
    units = await _units(db)
    _assert_consistent(units)
    assert units["B1"].path == (
        segment(units["T1"].id or 0)
        + segment(units["H1"].id or 0)
        + segment(units["C1"].id or 0)
        + segment(units["B1"].id or 0)
    )
    assert units["B1"].depth == 3 and units["T2"].depth == 0
    assert units["C1"].level_code == "co_so" and units["C1"].members == 10
    assert units["B1"].created_at == units["B1"].updated_at == now
    assert await _count(db, AuditLog) == 10


async def test_subtree_is_exactly_the_units_below(db: Database, now: datetime) -> None:
    await _import(db, TREE, now)
    async with db.read() as session:
        h1 = [u.code for u in await subtree_units(session=session, root_code="H1")]
        t2 = [u.code for u in await subtree_units(session=session, root_code="T2")]
        everything = await subtree_units(session=session, root_code=None)
        b2 = [u.code for u in await subtree_units(session=session, root_code="B2")]
        with pytest.raises(UnitNotFound):
            await subtree_units(session=session, root_code="NOPE")
        assert await get_unit(session=session, code="NOPE") is None
    assert sorted(h1) == ["B1", "B2", "C1", "C2", "H1"]
    assert h1[0] == "H1"  # ordered by path: the root first
    assert t2 == ["T2", "H3"]
    assert b2 == ["B2"]
    assert [u.path for u in everything] == sorted(u.path for u in everything)
    assert len(everything) == 10


async def test_reimport_of_the_same_file_changes_nothing(db: Database, now: datetime) -> None:
    await _import(db, TREE, now)
    audits = await _count(db, AuditLog)
    later = now + timedelta(days=3)
    result = await _import(db, TREE, later)
    assert result == ImportResult(unchanged=10)
    assert await _count(db, AuditLog) == audits
    units = await _units(db)
    assert {u.updated_at for u in units.values()} == {now}


async def test_moving_a_unit_moves_its_whole_subtree(db: Database, now: datetime) -> None:
    await _import(db, TREE, now)
    before = await _units(db)
    later = now + timedelta(hours=1)
    # H1 (with C1, C2, B1, B2) goes under H3: one level deeper.
    result = await _import(db, [row("H1", "H3", "huyen")], later)
    assert result == ImportResult(moved=1)
    units = await _units(db)
    _assert_consistent(units)
    assert units["H1"].parent_id == units["H3"].id
    for code in ("H1", "C1", "C2", "B1", "B2"):
        assert units[code].path.startswith(units["H3"].path)
        assert units[code].depth == before[code].depth + 1
        assert units[code].id == before[code].id
    assert units["H1"].updated_at == later
    assert units["B1"].updated_at == now  # carried along, not edited
    async with db.read() as session:
        t2 = {u.code for u in await subtree_units(session=session, root_code="T2")}
        t1 = {u.code for u in await subtree_units(session=session, root_code="T1")}
        moves = (
            (await session.execute(select(AuditLog).where(col(AuditLog.action) == "unit.move")))
            .scalars()
            .all()
        )
    assert t2 == {"T2", "H3", "H1", "C1", "C2", "B1", "B2"}
    assert t1 == {"T1", "H2", "C3"}
    assert len(moves) == 1
    assert moves[0].old == {"code": "H1", "parent_code": "T1"}
    assert moves[0].new == {"code": "H1", "parent_code": "H3"}

    # And up to a root: shallower.
    await _import(db, [row("C1", None, "co_so")], later)
    units = await _units(db)
    _assert_consistent(units)
    assert (units["C1"].depth, units["B1"].depth, units["B2"].depth) == (0, 1, 1)


async def test_swap_and_moves_under_new_units_in_one_file(db: Database, now: datetime) -> None:
    await _import(db, TREE, now)
    # C1 moves under its own child B1 promoted to root; H2 moves under a brand new unit N1
    # which itself hangs under a new N0 listed after it.
    rows = [
        row("C1", "B1", "co_so"),
        row("B1", None, "chi_bo"),
        row("H2", "N1", "huyen"),
        row("N1", "N0", "huyen"),
        row("N0", None, "tinh"),
    ]
    result = await _import(db, rows, now + timedelta(hours=1))
    assert result == ImportResult(created=2, moved=3)
    units = await _units(db)
    _assert_consistent(units)
    assert units["C1"].parent_id == units["B1"].id
    assert units["B2"].path.startswith(units["B1"].path)
    assert units["C3"].depth == 3 and units["C3"].path.startswith(units["N0"].path)


async def test_changes_deactivation_and_kept_members(db: Database, now: datetime) -> None:
    await _import(db, TREE, now)
    later = now + timedelta(days=1)
    rows = [
        row("C1", "H1", "co_so", name="Đảng bộ xã Tân Lập"),
        row("C2", "H1", "co_so", members=None),  # members not given: kept
        row("C3", "H2", "co_so", members=42),
        row("B1", "C1", active=False),
    ]
    result = await _import(db, rows, later)
    assert result == ImportResult(updated=3, unchanged=1)
    units = await _units(db)
    assert units["C1"].name == "Đảng bộ xã Tân Lập" and units["C1"].updated_at == later
    assert units["C2"].members == 10 and units["C2"].updated_at == now
    assert units["C3"].members == 42
    assert units["B1"].active is False and units["B1"].deactivated_at == later
    async with db.read() as session:
        active = {u.code for u in await subtree_units(session=session, root_code="C1")}
        every = {
            u.code for u in await subtree_units(session=session, root_code="C1", active_only=False)
        }
        audit = (
            (
                await session.execute(
                    select(AuditLog).where(col(AuditLog.entity_id) == str(units["C3"].id))
                )
            )
            .scalars()
            .all()
        )
    assert active == {"C1", "B2"} and every == {"C1", "B1", "B2"}
    assert audit[-1].action == "unit.update"
    assert audit[-1].old == {"code": "C3", "members": 10}
    assert audit[-1].new == {"code": "C3", "members": 42}

    result = await _import(db, [row("B1", "C1", active=True)], later + timedelta(days=1))
    assert result == ImportResult(updated=1)
    b1 = (await _units(db))["B1"]
    assert b1.active is True and b1.deactivated_at is None


async def test_level_may_be_given_by_its_label(db: Database, now: datetime) -> None:
    await _import(db, [row("T9", None, "Cấp tỉnh"), row("H9", "T9", "cấp huyện")], now)
    units = await _units(db)
    assert (units["T9"].level_code, units["H9"].level_code) == ("tinh", "huyen")


async def test_ids_keep_flowing_after_an_import(db: Database, now: datetime) -> None:
    """Imports allocate ids themselves; a later ordinary insert must not collide (PostgreSQL:
    the sequence was advanced)."""
    await _import(db, TREE, now)
    async with db.write() as session:
        result = await session.execute(
            insert(Unit)
            .values(
                code="X1",
                name="x",
                level_code="tinh",
                path="p",
                depth=0,
                members=0,
                active=True,
                created_at=now,
                updated_at=now,
            )
            .returning(col(Unit.id))
        )
        new_id = result.scalar_one()
    assert new_id is not None
    assert new_id > max(u.id or 0 for u in (await _units(db)).values() if u.code != "X1")


# --- validation -----------------------------------------------------------------------------


async def _errors(db: Database, rows: list[UnitRow]) -> list[tuple[int, str]]:
    async with db.write() as session:
        await ensure_default_levels(session=session)
    async with db.read() as session:
        return [(e.line, e.reason) for e in await validate_units(session=session, rows=rows)]


async def test_every_bad_row_is_reported_and_nothing_written(db: Database, now: datetime) -> None:
    await _import(db, TREE, now)
    units_before = await _units(db)
    audits = await _count(db, AuditLog)
    rows = numbered(
        [
            row("N1", "ZZZ"),  # 2 unknown parent
            row("N2", "N2"),  # 3 own parent
            row("N3", None, "xa"),  # 4 unknown level
            row("N4", "T1", "huyen"),  # 5 fine
            row("N4", "T1", "huyen"),  # 6 duplicate
            row("N5", "N6"),  # 7 cycle N5 -> N6 -> N5
            row("N6", "N5"),  # 8
            row("H1", "B1", "huyen"),  # 9 cycle with the stored tree: B1 is below H1
            row("N7", "T1", "huyen", name=""),  # 10 missing name
            row("N4", "T2", "huyen"),  # 11 duplicate again
        ]
    )
    expected = [
        (2, "unknown_parent"),
        (3, "own_parent"),
        (4, "unknown_level"),
        (6, "duplicate_code"),
        (7, "cycle"),
        (8, "cycle"),
        (9, "cycle"),
        (10, "missing_name"),
        (11, "duplicate_code"),
    ]
    assert await _errors(db, rows) == expected
    async with db.write() as session:
        with pytest.raises(UnitImportError) as caught:
            await import_units(session=session, rows=rows, now=now)
    assert [(e.line, e.reason) for e in caught.value.errors] == expected
    cycle = next(e for e in caught.value.errors if e.line == 9)
    assert cycle.params["cycle"] == "H1 → B1 → C1 → H1"
    after = await _units(db)
    assert {c: (u.path, u.parent_id, u.updated_at) for c, u in after.items()} == {
        c: (u.path, u.parent_id, u.updated_at) for c, u in units_before.items()
    }
    assert await _count(db, AuditLog) == audits


async def test_roots_and_forward_parents_are_valid(db: Database) -> None:
    rows = numbered([row("B", "A"), row("A", None, "tinh"), row("C", "B")])
    assert await _errors(db, rows) == []


# --- property: random trees, random valid moves ----------------------------------------------

_example = itertools.count()


@st.composite
def tree_and_moves(draw: st.DrawFn) -> tuple[list[int | None], list[list[tuple[int, int | None]]]]:
    """A random forest (parent index < child index) and rounds of moves that keep it a forest."""
    size = draw(st.integers(min_value=1, max_value=20))
    parents: list[int | None] = [
        draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None for i in range(size)
    ]
    rounds: list[list[tuple[int, int | None]]] = []
    current = list(parents)
    for _ in range(draw(st.integers(1, 3))):
        moves: list[tuple[int, int | None]] = []
        for _ in range(draw(st.integers(1, 4))):
            unit = draw(st.integers(0, size - 1))
            below = _descendants(current, unit)
            targets = [None, *(i for i in range(size) if i not in below)]
            target = draw(st.sampled_from(targets))
            current[unit] = target
            moves.append((unit, target))
        rounds.append(moves)
    return parents, rounds


def _descendants(parents: list[int | None], unit: int) -> set[int]:
    found = {unit}
    changed = True
    while changed:
        changed = False
        for child, parent in enumerate(parents):
            if parent in found and child not in found:
                found.add(child)
                changed = True
    return found


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=tree_and_moves(), order=st.randoms(use_true_random=False))
async def test_paths_stay_consistent_through_random_moves(
    db: Database,
    now: datetime,
    case: tuple[list[int | None], list[list[tuple[int, int | None]]]],
    order: object,
) -> None:
    parents, rounds = case
    prefix = f"P{next(_example)}-"  # examples share the database: each uses its own codes

    def code(i: int | None) -> str | None:
        return None if i is None else f"{prefix}{i}"

    current = list(parents)
    rows = [row(code(i) or "", code(p)) for i, p in enumerate(current)]
    order.shuffle(rows)  # type: ignore[attr-defined]
    await _import(db, rows, now)
    for moves in rounds:
        for unit, target in moves:
            current[unit] = target
        rows = [row(code(i) or "", code(p)) for i, p in enumerate(current)]
        order.shuffle(rows)  # type: ignore[attr-defined]
        await _import(db, rows, now)

    units = {c: u for c, u in (await _units(db)).items() if c.startswith(prefix)}
    all_units = await _units(db)
    _assert_consistent(all_units)
    for i, p in enumerate(current):
        stored = units[code(i) or ""]
        expected_parent = units[code(p) or ""].id if p is not None else None
        assert stored.parent_id == expected_parent
    async with db.read() as session:
        for i in range(len(current)):
            by_range = {u.code for u in await subtree_units(session=session, root_code=code(i))}
            assert by_range == {code(j) for j in _descendants(current, i)}
