"""The audit log: who changed what, when, old -> new, through which channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import require_aware
from storage.models import AuditLog

Json = dict[str, Any] | None  # an audit row's `old` / `new`

# One row's INSERT as a Core statement on the table, compiled once: `insert(AuditLog).values(row)`
# built a new ORM statement (and its cache key) for every row.
_INSERT = insert(AuditLog.__table__)  # type: ignore[attr-defined]


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
    trail = AuditTrail(now, channel, actor_person_id, entity)
    await trail.record(session, action, entity_id, old=old, new=new)


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


@dataclass
class AuditTrail:
    """The audit rows of one change by one actor, through one channel, at one moment, about
    one kind of entity: collected with `add`, then written together (a bulk import writes
    thousands), or written one at a time with `record` (an interactive change)."""

    now: datetime
    channel: str
    actor_person_id: int | None
    entity: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, action: str, entity_id: str | int, *, old: Json = None, new: Json = None) -> None:
        self.rows.append(self._row(action, entity_id, old, new))

    async def record(
        self,
        session: AsyncSession,
        action: str,
        entity_id: str | int,
        *,
        old: Json = None,
        new: Json = None,
    ) -> None:
        """Append one row at once, inside the caller's transaction (collected rows stay)."""
        await session.execute(_INSERT, self._row(action, entity_id, old, new))

    def _row(self, action: str, entity_id: str | int, old: Json, new: Json) -> dict[str, Any]:
        return {
            "at": require_aware(self.now),
            "channel": self.channel,
            "actor_person_id": self.actor_person_id,
            "action": action,
            "entity": self.entity,
            "entity_id": str(entity_id),
            "old": old,
            "new": new,
        }

    async def write(self, *, session: AsyncSession, batch: int = 5_000) -> None:
        """Insert the collected rows in batches of `batch` (bounded statement size)."""
        for start in range(0, len(self.rows), batch):
            await session.execute(insert(AuditLog), self.rows[start : start + batch])
        self.rows.clear()
