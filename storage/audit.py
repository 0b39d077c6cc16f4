"""The audit log: who changed what, when, old -> new, through which channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import require_aware
from storage.models import AuditLog


async def record(
    *,
    session: AsyncSession,
    now: datetime,
    channel: str,
    action: str,
    entity: str,
    entity_id: str | int,
    actor_person_id: int | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> None:
    """Append one audit row inside the caller's transaction."""
    await session.execute(
        insert(AuditLog).values(
            at=require_aware(now),
            actor_person_id=actor_person_id,
            channel=channel,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            old=old,
            new=new,
        )
    )


async def record_many(*, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk form for imports: each row has the keyword arguments of `record` (minus session)."""
    if not rows:
        return
    for row in rows:
        require_aware(row["at"])
        row["entity_id"] = str(row["entity_id"])
        row.setdefault("old", None)
        row.setdefault("new", None)
        row.setdefault("actor_person_id", None)
    await session.execute(insert(AuditLog), rows)
