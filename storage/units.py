"""The unit tree: levels, lookups, subtree queries, and the bulk import (upsert by code).

Every unit's path is its parent's path plus its own id segment (see `storage.tree`), so a subtree
is one range. Moving a unit rewrites its whole subtree with one set-based UPDATE on that range.
Levels are data: nothing here knows the depth of the tree beyond the default level set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.clock import require_aware
from storage.models import CHANNEL_CLI, Level, Unit, metadata
from storage.planner_stats import analyse_after_bulk
from storage.tree import child_path, in_subtree
from storage.unit_import import RowError, UnitImportError, UnitRow
from storage.unit_lookup import get_unit
from storage.unit_scope import rows_outside

BATCH = 5_000
CYCLE_SHOWN = 8

DEFAULT_LEVELS: tuple[tuple[str, str, str, int], ...] = (
    ("tinh", "Cấp tỉnh", "Province level", 0),
    ("huyen", "Cấp huyện", "District level", 1),
    ("co_so", "Cấp cơ sở", "Grassroots level", 2),
    ("chi_bo", "Chi bộ trực thuộc", "Subordinate cell", 3),
)

UNIT: Table = metadata.tables["unit"]
LEVEL: Table = metadata.tables["level"]

Progress = Callable[[int, int], None]
T = TypeVar("T")


class UnitNotFound(LookupError):
    """No unit has this code."""


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.moved + self.unchanged


# --- levels ---------------------------------------------------------------------------------


async def ensure_default_levels(*, session: AsyncSession) -> None:
    """Insert the default levels that are missing; existing ones (and their labels) are kept."""
    existing = set((await session.execute(select(LEVEL.c.code))).scalars())
    missing = [
        {"code": code, "label_vi": vi, "label_en": en, "rank": rank}
        for code, vi, en, rank in DEFAULT_LEVELS
        if code not in existing
    ]
    if missing:
        await session.execute(insert(LEVEL), missing)


async def levels_in_use(*, session: AsyncSession) -> set[str]:
    """The level codes that some active unit has."""
    found = await session.execute(
        select(UNIT.c.level_code).where(UNIT.c.active.is_(True)).distinct()
    )
    return set(found.scalars())


async def list_levels(*, session: AsyncSession) -> list[Level]:
    result = await session.execute(select(Level).order_by(LEVEL.c.rank, LEVEL.c.code))
    return list(result.scalars())


# --- lookups --------------------------------------------------------------------------------


def under(root: Unit) -> ColumnElement[bool]:
    """SQL condition: the unit is `root` or below it (an index range on the path)."""
    return in_subtree(UNIT.c.path, root.path)


async def subtree_units(
    *, session: AsyncSession, root_code: str | None, active_only: bool = True
) -> list[Unit]:
    """The unit `root_code` and everything below it (the whole tree for None), by path.

    Raises UnitNotFound for an unknown code."""
    stmt = select(Unit).order_by(UNIT.c.path)
    if root_code is not None:
        root = await get_unit(session=session, code=root_code)
        if root is None:
            raise UnitNotFound(root_code)
        stmt = stmt.where(under(root))
    if active_only:
        stmt = stmt.where(UNIT.c.active == true())
    return list((await session.execute(stmt)).scalars())


# --- validation -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Stored:
    id: int
    code: str
    name: str
    level_code: str
    parent_id: int | None
    path: str
    depth: int
    members: int
    active: bool


@dataclass(slots=True)
class _Snapshot:
    by_code: dict[str, _Stored]
    code_of: dict[int, str]
    levels: dict[str, str]  # casefolded code or label -> level code


async def _snapshot(session: AsyncSession) -> _Snapshot:
    result = await session.execute(
        select(
            UNIT.c.id,
            UNIT.c.code,
            UNIT.c.name,
            UNIT.c.level_code,
            UNIT.c.parent_id,
            UNIT.c.path,
            UNIT.c.depth,
            UNIT.c.members,
            UNIT.c.active,
        )
    )
    by_code = {row[1]: _Stored(*row) for row in result}
    code_of = {stored.id: code for code, stored in by_code.items()}
    levels: dict[str, str] = {}
    for code, label_vi, label_en in await session.execute(
        select(LEVEL.c.code, LEVEL.c.label_vi, LEVEL.c.label_en)
    ):
        for key in (label_en, label_vi, code):
            levels[key.casefold()] = code
    return _Snapshot(by_code, code_of, levels)


@dataclass(slots=True)
class _Checked:
    rows: dict[str, UnitRow]  # first occurrence of each code
    level: dict[str, str]  # code -> level code
    parent: dict[str, str | None]  # code -> parent code, for the file's units
    errors: list[RowError]


def _check(
    rows: Sequence[UnitRow], snap: _Snapshot, roots: Sequence[str] | None = None
) -> _Checked:
    errors: list[RowError] = []
    first: dict[str, UnitRow] = {}
    for row in rows:
        seen = first.get(row.code)
        if seen is not None:
            errors.append(
                RowError(row.line, "duplicate_code", {"code": row.code, "first_line": seen.line})
            )
        else:
            first[row.code] = row

    level: dict[str, str] = {}
    parent: dict[str, str | None] = {}
    for code, row in first.items():
        if not row.name:
            errors.append(RowError(row.line, "missing_name", {"code": code}))
        if not row.level:
            errors.append(RowError(row.line, "missing_level", {"code": code}))
        else:
            found = snap.levels.get(row.level.casefold())
            if found is None:
                errors.append(
                    RowError(row.line, "unknown_level", {"code": code, "level": row.level})
                )
            else:
                level[code] = found
        wanted = row.parent_code
        if wanted == code:
            errors.append(RowError(row.line, "own_parent", {"code": code}))
            wanted = None
        elif wanted is not None and wanted not in first and wanted not in snap.by_code:
            errors.append(RowError(row.line, "unknown_parent", {"code": code, "parent": wanted}))
            wanted = None
        parent[code] = wanted

    def final_parent(code: str) -> str | None:
        if code in parent:
            return parent[code]
        parent_id = snap.by_code[code].parent_id
        return None if parent_id is None else snap.code_of[parent_id]

    state: dict[str, int] = {}  # 1: on the current walk, 2: known to reach a root
    for start in parent:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            chain.append(node)
            node = final_parent(node)
        if node is not None and state[node] == 1:
            cycle = chain[chain.index(node) :]
            shown = [*cycle[:CYCLE_SHOWN], *(["…"] if len(cycle) > CYCLE_SHOWN else []), node]
            text_cycle = " → ".join(shown)
            for member in cycle:
                if member in first:
                    errors.append(
                        RowError(first[member].line, "cycle", {"code": member, "cycle": text_cycle})
                    )
        for member in chain:
            state[member] = 2
    if roots is not None:
        stored = {
            code: (s.path, None if s.parent_id is None else snap.code_of[s.parent_id])
            for code, s in snap.by_code.items()
        }
        errors += rows_outside(
            rows=first,
            parent=parent,
            stored=stored,
            roots=roots,
            skip_lines={e.line for e in errors},
        )
    return _Checked(first, level, parent, errors)


async def validate_units(
    *, session: AsyncSession, rows: Sequence[UnitRow], roots: Sequence[str] | None = None
) -> list[RowError]:
    """Every problem the file has against itself and the stored tree (empty: importable).

    Checks: duplicate codes (every line after the first), unknown levels, unknown parents,
    a unit that is its own parent, and cycles, including ones formed with the stored tree;
    with `roots` (an admin's subtree paths), units outside them (`storage.unit_scope`)."""
    checked = _check(rows, await _snapshot(session), roots)
    return sorted(checked.errors, key=lambda e: (e.line, e.reason))


# --- import ---------------------------------------------------------------------------------


def _batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class _Tree:
    """The tree as it will be after the import: parents, ids, depths and paths, computed lazily
    for the file's units and the stored units they hang from."""

    snap: _Snapshot
    parent: dict[str, str | None]
    ids: dict[str, int]
    depths: dict[str, int]
    paths: dict[str, str]

    def final_parent(self, code: str) -> str | None:
        if code in self.parent:
            return self.parent[code]
        parent_id = self.snap.by_code[code].parent_id
        return None if parent_id is None else self.snap.code_of[parent_id]

    def resolve(self, code: str) -> None:
        """Fill depths and paths for `code` and its ancestors (iteratively: trees can be deep)."""
        chain: list[str] = []
        node: str | None = code
        while node is not None and node not in self.paths:
            chain.append(node)
            node = self.final_parent(node)
        parent_path = None if node is None else self.paths[node]
        parent_depth = -1 if node is None else self.depths[node]
        for member in reversed(chain):
            parent_path = child_path(parent_path, self.ids[member])
            parent_depth += 1
            self.paths[member] = parent_path
            self.depths[member] = parent_depth


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def import_units(
    *,
    session: AsyncSession,
    rows: Sequence[UnitRow],
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = CHANNEL_CLI,
    progress: Progress | None = None,
    roots: Sequence[str] | None = None,
) -> ImportResult:
    """Upsert units by code, parents first; move subtrees whose parent changed.

    Validates the whole file first and raises UnitImportError (writing nothing) if any row is
    bad. Units absent from the file are left as they are. Re-importing the same rows writes
    nothing. `progress(done, total)` is called as rows are written. With `roots` (the
    importing admin's subtree paths) a row outside them is an error too. Never commits."""
    require_aware(now)
    postgresql = _is_postgresql(session)
    if postgresql:
        # Imports allocate ids themselves: keep other writers out until this transaction ends.
        await session.execute(text("LOCK TABLE unit IN EXCLUSIVE MODE"))
    snap = await _snapshot(session)
    checked = _check(rows, snap, roots)
    if checked.errors:
        raise UnitImportError(checked.errors)

    result = ImportResult()
    by_code = snap.by_code
    next_id = max((s.id for s in by_code.values()), default=0) + 1
    tree = _Tree(snap, checked.parent, {c: s.id for c, s in by_code.items()}, {}, {})
    new_codes = [code for code in checked.rows if code not in by_code]
    for code in new_codes:
        tree.ids[code] = next_id
        next_id += 1
    for code in checked.rows:
        tree.resolve(code)

    inserts: dict[int, list[dict[str, Any]]] = {}
    moves: dict[int, list[str]] = {}
    changes: list[dict[str, Any]] = []
    trail = audit.AuditTrail(now, channel, actor_person_id, "unit")
    for code, row in checked.rows.items():
        parent_code = checked.parent[code]
        parent_id = None if parent_code is None else tree.ids[parent_code]
        level = checked.level[code]
        stored = by_code.get(code)
        if stored is None:
            active = True if row.active is None else row.active
            values = {
                "id": tree.ids[code],
                "code": code,
                "name": row.name,
                "level_code": level,
                "parent_id": parent_id,
                "path": tree.paths[code],
                "depth": tree.depths[code],
                "members": row.members or 0,
                "active": active,
                "deactivated_at": None if active else now,
                "created_at": now,
                "updated_at": now,
            }
            inserts.setdefault(tree.depths[code], []).append(values)
            new = {
                "code": code,
                "name": row.name,
                "level": level,
                "parent_code": parent_code,
                "members": values["members"],
                "active": active,
            }
            trail.add("unit.create", tree.ids[code], new=new)
            result.created += 1
            continue

        old: dict[str, Any] = {}
        new = {}
        stored_parent = None if stored.parent_id is None else snap.code_of[stored.parent_id]
        moved = stored_parent != parent_code
        if moved:
            old["parent_code"], new["parent_code"] = stored_parent, parent_code
            moves.setdefault(tree.depths[code], []).append(code)
        if stored.name != row.name:
            old["name"], new["name"] = stored.name, row.name
        if stored.level_code != level:
            old["level"], new["level"] = stored.level_code, level
        members = stored.members if row.members is None else row.members
        if stored.members != members:
            old["members"], new["members"] = stored.members, members
        active = stored.active if row.active is None else row.active
        if stored.active != active:
            old["active"], new["active"] = stored.active, active
        if not new:
            result.unchanged += 1
            continue
        change = {
            "b_id": stored.id,
            "b_name": row.name,
            "b_level_code": level,
            "b_parent_id": parent_id,
            "b_members": members,
            "b_active": active,
            "b_updated_at": now,
        }
        if "active" in new:
            change["b_deactivated_at"] = None if active else now
        changes.append(change)
        action = "unit.move" if moved else "unit.update"
        trail.add(action, stored.id, old={"code": code, **old}, new={"code": code, **new})
        if moved:
            result.moved += 1
        else:
            result.updated += 1

    total = result.created + len(changes)
    done = 0
    if progress is not None:
        progress(done, total)
    for depth in sorted(set(inserts) | set(moves)):
        for batch in _batches(inserts.get(depth, [])):
            await session.execute(insert(UNIT), list(batch))
            done += len(batch)
            if progress is not None:
                progress(done, total)
        for code in moves.get(depth, []):
            await _move_subtree(
                session=session,
                unit_id=tree.ids[code],
                new_path=tree.paths[code],
                new_depth=tree.depths[code],
            )
    await _apply_changes(session=session, changes=changes)
    if progress is not None:
        progress(total, total)
    await trail.write(session=session, batch=BATCH)
    if postgresql and new_codes:
        await session.execute(
            text("SELECT setval(pg_get_serial_sequence('unit', 'id'), :last)"),
            {"last": next_id - 1},
        )
    await analyse_after_bulk(session=session, tables=("unit",), rows=len(new_codes))
    return result


async def _move_subtree(
    *, session: AsyncSession, unit_id: int, new_path: str, new_depth: int
) -> None:
    """Rewrite the paths and depths of a unit's current subtree with one range UPDATE."""
    old_path, old_depth = (
        await session.execute(select(UNIT.c.path, UNIT.c.depth).where(UNIT.c.id == unit_id))
    ).one()
    if old_path == new_path:
        return
    await session.execute(
        update(UNIT)
        .where(in_subtree(UNIT.c.path, old_path))
        .values(
            path=literal(new_path, UNIT.c.path.type) + func.substr(UNIT.c.path, len(old_path) + 1),
            depth=UNIT.c.depth + (new_depth - old_depth),
        )
    )


async def _apply_changes(*, session: AsyncSession, changes: list[dict[str, Any]]) -> None:
    """Bulk UPDATE of the changed units' own columns (two shapes: with and without the
    deactivation timestamp, so an unchanged `active` keeps its `deactivated_at`)."""
    base: dict[str, Any] = {
        "name": bindparam("b_name"),
        "level_code": bindparam("b_level_code"),
        "parent_id": bindparam("b_parent_id"),
        "members": bindparam("b_members"),
        "active": bindparam("b_active"),
        "updated_at": bindparam("b_updated_at"),
    }
    plain = [c for c in changes if "b_deactivated_at" not in c]
    toggled = [c for c in changes if "b_deactivated_at" in c]
    stmt = update(UNIT).where(UNIT.c.id == bindparam("b_id"))
    for items, values in (
        (plain, base),
        (toggled, {**base, "deactivated_at": bindparam("b_deactivated_at")}),
    ):
        for batch in _batches(items):
            await session.execute(stmt.values(**values), list(batch))
