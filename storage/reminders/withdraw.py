"""A reminder stops the day the unit reports: a queued reminder or nudge whose unit has since
reported everything it listed is withdrawn (outbox status `withdrawn`), never sent.

A reminder's or nudge's outbox payload says what it asks for, `{"owes": {"unit_id": U,
"deliverables": [D, ...]}}` (`owes_payload`). The sender checks its claimed rows against the
reports (`withdraw_answered`, set-based: one query for all of them) just before they go out, so a
report confirmed by any path (chat, web, a paper-report import) stops the reminder. A message that
still asks for something the unit owes goes out as it was written.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Outbox, Report
from storage.outbox import STATUS_PENDING, STATUS_WITHDRAWN

OWES = "owes"
_CHUNK = 400


def owes_payload(unit_id: int, deliverable_ids: Collection[int]) -> dict[str, Any]:
    """The payload part naming what the message asks the unit for."""
    return {OWES: {"unit_id": unit_id, "deliverables": sorted(set(deliverable_ids))}}


def _asked(row: Outbox) -> tuple[int, list[int]] | None:
    owes = row.payload.get(OWES) if isinstance(row.payload, dict) else None
    if not isinstance(owes, dict):
        return None
    unit, deliverables = owes.get("unit_id"), owes.get("deliverables")
    if not isinstance(unit, int) or not isinstance(deliverables, list) or not deliverables:
        return None
    return unit, [d for d in deliverables if isinstance(d, int)]


async def _reported(
    session: AsyncSession, pairs: Sequence[tuple[int, int]]
) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for start in range(0, len(pairs), _CHUNK):
        chunk = list(pairs[start : start + _CHUNK])
        rows = await session.execute(
            select(col(Report.unit_id), col(Report.deliverable_id)).where(
                tuple_(col(Report.unit_id), col(Report.deliverable_id)).in_(chunk)
            )
        )
        found.update((int(u), int(d)) for u, d in rows.all())
    return found


async def withdraw_answered(*, session: AsyncSession, rows: Sequence[Outbox]) -> set[int]:
    """Of `rows`, the ids of the reminders and nudges whose unit has reported every deliverable
    they ask for; those rows are marked withdrawn (in the caller's transaction)."""
    asked = {row.id: found for row in rows if row.id is not None and (found := _asked(row))}
    pairs = sorted({(unit, d) for unit, deliverables in asked.values() for d in deliverables})
    if not pairs:
        return set()
    reported = await _reported(session, pairs)
    answered = {
        row_id
        for row_id, (unit, deliverables) in asked.items()
        if all((unit, d) in reported for d in deliverables)
    }
    if answered:
        await session.execute(
            update(Outbox)
            .where(col(Outbox.id).in_(sorted(answered)), col(Outbox.status) == STATUS_PENDING)
            .values(status=STATUS_WITHDRAWN, claimed_at=None, error="the unit has reported")
            .execution_options(synchronize_session=False)
        )
    return answered
