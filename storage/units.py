"""Placeholder replaced by the unit-tree work."""

from sqlalchemy.ext.asyncio import AsyncSession


async def ensure_default_levels(*, session: AsyncSession) -> None:
    raise NotImplementedError
