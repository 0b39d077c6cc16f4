"""Processed updates: a replayed update (getUpdates after a crash, a webhook retry, a second
worker) is processed once. `claim_update` inserts (channel, update_id) into `processed_update`
inside the handler's own transaction. If the row is already there the handler does not run again;
if the handler fails, the transaction rolls back and the update may be tried again.

The replies of a turn are stored on its row in the same transaction (`store_replies`, before the
commit), so a replay of an update whose replies a kill lost between the commit and the send can
send them again (`stored_replies`): never silence. Each stored reply carries a `delivered`
flag (`mark_delivered`, after its send), so a replay sends only what did not go out. The stored
copy never holds a secret: invite codes are masked in it (`storage.invite_codes.mask_codes`; the
rows are kept for days and go into every backup), so a replayed `/moi` re-sends the text with the
code hidden, and that text says to run `/moi` again for a new code. `forget_old_updates` is the
periodic cleanup (the stored replies go with their rows). Functions never commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.clock import require_aware
from storage.invite_codes import mask_codes
from storage.models import ProcessedUpdate

KEEP = timedelta(days=7)


def _insert(session: AsyncSession) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(ProcessedUpdate)
    return sqlite.insert(ProcessedUpdate)


async def claim_update(
    *, session: AsyncSession, channel: str, update_id: int | str, now: datetime
) -> bool:
    """True the first time this update is seen; False for a replay (nothing written).

    On PostgreSQL a concurrent duplicate waits for the first transaction and then sees the row;
    on SQLite the write transaction (BEGIN IMMEDIATE) serialises them."""
    stmt = (
        _insert(session)
        .values(channel=channel, update_id=str(update_id), processed_at=require_aware(now))
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(col(ProcessedUpdate.update_id))
    )
    return (await session.execute(stmt)).first() is not None


def without_secrets(value: Any) -> Any:
    """A copy of a stored reply (dicts, lists, strings) with every invite code masked."""
    if isinstance(value, str):
        return mask_codes(value)[0]
    if isinstance(value, dict):
        return {key: without_secrets(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_secrets(item) for item in value]
    return value


def _this_update(channel: str, update_id: int | str) -> tuple[ColumnElement[bool], ...]:
    """The WHERE conditions that pick one processed update's row."""
    return (
        col(ProcessedUpdate.channel) == channel,
        col(ProcessedUpdate.update_id) == str(update_id),
    )


async def _set_replies(
    session: AsyncSession, channel: str, update_id: int | str, replies: list[Any]
) -> None:
    await session.execute(
        update(ProcessedUpdate).where(*_this_update(channel, update_id)).values(replies=replies)
    )


async def store_replies(
    *, session: AsyncSession, channel: str, update_id: int | str, replies: list[dict[str, Any]]
) -> None:
    """Keep the rendered replies of a claimed update (one UPDATE, in the turn's transaction),
    with invite codes masked (`without_secrets`). An empty list stores nothing (the row keeps
    NULL: a replay stays silent)."""
    if not replies:
        return
    replies = [without_secrets(reply) for reply in replies]
    await _set_replies(session, channel, update_id, replies)


async def stored_replies(
    *, session: AsyncSession, channel: str, update_id: int | str
) -> list[dict[str, Any]]:
    """The replies stored for a processed update; [] if none (or the row is gone)."""
    stmt = select(col(ProcessedUpdate.replies)).where(*_this_update(channel, update_id))
    replies = (await session.execute(stmt)).scalar_one_or_none()
    return list(replies) if isinstance(replies, list) else []


async def mark_delivered(
    *,
    session: AsyncSession,
    channel: str,
    update_id: int | str,
    indices: list[int],
    replies: list[dict[str, Any]] | None = None,
) -> None:
    """Set `delivered` on the stored replies at `indices` (sent, or handed to the outbox), so a
    replay of the update sends only the others. `replies`: the stored list as the caller holds
    it (the turn that stored or read it): one UPDATE instead of reading it back first."""
    if not indices:
        return
    if replies is None:
        replies = await stored_replies(session=session, channel=channel, update_id=update_id)
    if not replies:
        return
    chosen = set(indices)
    marked = [  # masked again: the caller's copy may be the unmasked one it stored
        without_secrets({**reply, "delivered": True})
        if i in chosen and isinstance(reply, dict)
        else without_secrets(reply)
        for i, reply in enumerate(replies)
    ]
    await _set_replies(session, channel, update_id, marked)


async def forget_old_updates(
    *, session: AsyncSession, now: datetime, keep: timedelta = KEEP
) -> int:
    """Delete records older than `keep` (Telegram never replays an update that old)."""
    result: Any = await session.execute(
        delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < require_aware(now) - keep)
    )
    return int(result.rowcount or 0)
