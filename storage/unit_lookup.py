"""Units found by their code, the one owner of that lookup (codes are unique and case-sensitive
as imported)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Unit, metadata

UNIT = metadata.tables["unit"]

# Codes per IN list (below the drivers' bind-parameter limits).
CODES_PER_QUERY = 5_000


async def get_unit(*, session: AsyncSession, code: str) -> Unit | None:
    """The unit with this code, or None."""
    result = await session.execute(select(Unit).where(col(Unit.code) == code))
    return result.scalar_one_or_none()


async def units_by_code(
    *, session: AsyncSession, codes: Sequence[str], any_case: bool = False
) -> dict[str, Unit]:
    """The units among `codes` that exist, by the code as given (unknown codes are absent).
    `any_case`: a code as written in any letter case finds the upper-case one ("sl-h1" finds
    "SL-H1"), as typed on paper reports."""

    def query(chunk: list[str]) -> Any:
        return select(Unit).where(col(Unit.code).in_(chunk))

    return await _by_code(session, query, codes, any_case, scalars=True)


async def unit_rows_by_code(
    *, session: AsyncSession, codes: Sequence[str], columns: Sequence[str], any_case: bool = False
) -> dict[str, Row[Any]]:
    """As `units_by_code`, but only these columns of the unit table, as rows (`row.path`):
    no ORM object per unit, for a bulk import that reads a few columns of thousands."""
    wanted = [UNIT.c[name] for name in dict.fromkeys(["code", *columns])]

    def query(chunk: list[str]) -> Any:
        return select(*wanted).where(UNIT.c.code.in_(chunk))

    return await _by_code(session, query, codes, any_case, scalars=False)


async def _by_code(
    session: AsyncSession,
    query: Callable[[list[str]], Any],
    codes: Sequence[str],
    any_case: bool,
    *,
    scalars: bool,
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    wanted = [*codes, *(code.upper() for code in codes)] if any_case else list(codes)
    unique = list(dict.fromkeys(wanted))
    for start in range(0, len(unique), CODES_PER_QUERY):
        result = await session.execute(query(unique[start : start + CODES_PER_QUERY]))
        found.update({unit.code: unit for unit in (result.scalars() if scalars else result)})
    if any_case:
        for code in codes:
            if code not in found and code.upper() in found:
                found[code] = found[code.upper()]
    return found
