"""Fresh planner statistics after a bulk write, on PostgreSQL.

PostgreSQL plans from statistics that autovacuum refreshes about a minute after a table changes
much. Until then a table that has just received thousands of rows is planned as if it were
nearly empty: the figure statements then run as nested loops that re-scan `report` for every
expected row (measured on the digest of 200 units: 10-12 ms a statement instead of 2-4; on a
province of 5,000 units, seconds). An import of units, people or reports is exactly that moment,
and the admin who ran it opens the dashboard right after. So the import analyses the tables it
filled, in its own transaction (PostgreSQL samples the rows that transaction wrote), when it
wrote at least `BULK_ROWS` rows. SQLite is left alone: its planner works without statistics and
the statements are written for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import metadata

# Rows written at or above which an import refreshes the statistics of the tables it wrote.
BULK_ROWS = 500


async def analyse_after_bulk(*, session: AsyncSession, tables: Sequence[str], rows: int) -> bool:
    """ANALYZE `tables` (names of this schema's tables) on PostgreSQL when `rows` rows were just
    written to them; True when it ran."""
    unknown = [name for name in tables if name not in metadata.tables]
    if unknown:
        raise ValueError(f"not tables of this schema: {unknown}")
    if rows < BULK_ROWS or not tables or session.get_bind().dialect.name != "postgresql":
        return False
    quoted = ", ".join(f'"{name}"' for name in tables)
    await session.execute(text(f"ANALYZE {quoted}"))
    return True
