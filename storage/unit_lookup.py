"""Units found by their code, the one owner of that lookup (codes are unique and case-sensitive
as imported)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Unit

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
    found: dict[str, Unit] = {}
    wanted = [*codes, *(code.upper() for code in codes)] if any_case else list(codes)
    unique = list(dict.fromkeys(wanted))
    for start in range(0, len(unique), CODES_PER_QUERY):
        chunk = unique[start : start + CODES_PER_QUERY]
        rows = (await session.execute(select(Unit).where(col(Unit.code).in_(chunk)))).scalars()
        found.update({unit.code: unit for unit in rows})
    if any_case:
        for code in codes:
            if code not in found and code.upper() in found:
                found[code] = found[code.upper()]
    return found
