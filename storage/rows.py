"""Row writes shared by the storage modules: a new row added and flushed (`add_row`), and bulk
writes by condition: delete or update the rows matching `where` in one statement, without
syncing objects already loaded in the session (callers refresh what they hold)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def add_row(session: AsyncSession, row: Row) -> Row:
    """Add a new row and flush it (it has its id and defaults afterwards); the row."""
    session.add(row)
    await session.flush()
    return row


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
