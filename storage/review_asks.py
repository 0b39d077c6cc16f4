"""A reason asked for as the next message: a reviewer pressed "Trả lại" (return) or "Mở lại"
(reopen) on a report, the bot asked for the reason, and the person's next typed message is
it. One ask per person (a new press replaces it); it lapses after `ASK_TTL` or when the person
sends a command instead. The ask names the version it was made for: if the report has moved on
meanwhile, the decision is refused by `storage.review` as for any stale button.

Functions never commit: the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.clock import require_aware
from storage.models import ReviewAsk

ASK_TTL = timedelta(minutes=30)
ACTIONS = ("return", "reopen")


async def ask(
    *, session: AsyncSession, person_id: int, version_id: int, action: str, now: datetime
) -> None:
    """Wait for the person's reason for `action` on this version (replacing an older ask)."""
    require_aware(now)
    if action not in ACTIONS:
        raise ValueError(action)
    await drop(session=session, person_id=person_id)
    session.add(
        ReviewAsk(person_id=person_id, version_id=version_id, action=action, created_at=now)
    )
    await session.flush()


async def drop(*, session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(ReviewAsk).where(col(ReviewAsk.person_id) == person_id))


async def take(*, session: AsyncSession, person_id: int, now: datetime) -> ReviewAsk | None:
    """The person's ask if it is still fresh, removed (it is answered once); a lapsed one is
    removed too and gives None."""
    require_aware(now)
    query = select(ReviewAsk).where(col(ReviewAsk.person_id) == person_id)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        return None
    await drop(session=session, person_id=person_id)
    return found if now - found.created_at <= ASK_TTL else None
