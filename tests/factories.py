"""Small builders for tests: levels, units (with explicit ids and materialised paths), people.

They write with plain inserts, independent of the import code, so any test can build a tree:

    async with db.write() as session:
        await make_levels(session)
        province = await make_unit(session, "T", level="tinh")
        district = await make_unit(session, "H1", parent=province, level="huyen")
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Level, Person, Role, Unit
from storage.tree import child_path, depth_of


def pk(row: Any) -> int:
    """The id of a flushed row, typed as int."""
    assert row is not None and row.id is not None
    return int(row.id)


T0 = datetime(2016, 6, 1, tzinfo=UTC)

DEFAULT_LEVELS = (
    ("tinh", "Cấp tỉnh", "Province", 1),
    ("huyen", "Cấp huyện", "District", 2),
    ("co_so", "Cấp cơ sở", "Grassroots", 3),
    ("chi_bo", "Chi bộ trực thuộc", "Cell", 4),
)


async def make_levels(session: AsyncSession) -> None:
    """The default four levels (skips those already there)."""
    present = set((await session.execute(select(col(Level.code)))).scalars())
    rows = [
        {"code": code, "label_vi": vi, "label_en": en, "rank": rank}
        for code, vi, en, rank in DEFAULT_LEVELS
        if code not in present
    ]
    if rows:
        await session.execute(insert(Level), rows)


async def make_unit(
    session: AsyncSession,
    code: str,
    parent: Unit | None = None,
    level: str = "co_so",
    members: int = 0,
    name: str | None = None,
    active: bool = True,
    now: datetime = T0,
) -> Unit:
    """Insert one unit under `parent` (None = a root) with the next free id."""
    top = (await session.execute(select(func.max(col(Unit.id))))).scalar_one()
    unit_id = (top or 0) + 1
    path = child_path(parent.path if parent is not None else None, unit_id)
    await session.execute(
        insert(Unit).values(
            id=unit_id,
            code=code,
            name=name or f"Đơn vị {code}",
            level_code=level,
            parent_id=parent.id if parent is not None else None,
            path=path,
            depth=depth_of(path),
            members=members,
            active=active,
            created_at=now,
            updated_at=now,
        )
    )
    return (await session.execute(select(Unit).where(col(Unit.id) == unit_id))).scalar_one()


async def make_person(
    session: AsyncSession,
    name: str = "Nguyễn Văn A",
    phone: str | None = None,
    roles: list[tuple[str, Unit | None]] | None = None,
    now: datetime = T0,
) -> Person:
    """Insert a person, optionally with roles [(kind, unit or None)]."""
    person = Person(full_name=name, phone=phone, created_at=now)
    session.add(person)
    await session.flush()
    for kind, unit in roles or []:
        session.add(
            Role(
                person_id=pk(person),
                kind=kind,
                unit_id=unit.id if unit is not None else None,
                created_at=now,
            )
        )
    await session.flush()
    return person
