"""Row writes shared by the storage modules: a new row added and flushed (`add_row`), an INSERT
that skips an existing row (`dialect_insert`, `insert_new`), and bulk writes by condition:
delete or update the rows matching `where` in one statement, without syncing objects already
loaded in the session (callers refresh what they hold)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def add_row(session: AsyncSession, row: Row) -> Row:
    """Add a new row and flush it (it has its id and defaults afterwards); the row."""
    session.add(row)
    await session.flush()
    return row


def dialect_insert(session: AsyncSession, model: Any) -> Any:
    """An INSERT into `model` in the session's dialect (PostgreSQL or SQLite): it has
    `on_conflict_do_nothing`."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


async def insert_new(
    session: AsyncSession,
    model: Any,
    values: dict[str, Any],
    *,
    unique: Sequence[str],
    returning: Any,
) -> Any:
    """Insert one row unless a row with the same `unique` columns exists (INSERT ... ON CONFLICT
    DO NOTHING RETURNING: one statement, no savepoint): `returning` of the new row, or None."""
    stmt = (
        dialect_insert(session, model)
        .values(values)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(returning)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_rows(session: AsyncSession, model: Any, *where: Any) -> int:
    """Delete the rows of `model` matching `where`; how many went."""
    result: Any = await session.execute(
        delete(model).where(*where).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def update_rows(
    session: AsyncSession, model: Any, values: dict[str, Any], *where: Any
) -> int:
    """Set `values` on the rows of `model` matching `where`; how many matched."""
    result: Any = await session.execute(
        update(model).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
