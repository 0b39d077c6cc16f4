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
periodic cleanup (the stored replies go with their rows). Functions never commit.

The chat turn (`bot.core.turn`) uses `record_update`: the row and the delivered marks of
earlier updates (`storage.delivery_marks`) in one INSERT, with the replies too on SQLite (at the
end of the transaction, after `storage.turn_read` told it the update is new; PostgreSQL claims
first and stores the replies at the end)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, TextClause, bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.clock import require_aware
from storage.invite_codes import mask_codes
from storage.models import ProcessedUpdate
from storage.rows import dialect_insert

if TYPE_CHECKING:
    from storage.delivery_marks import Mark

KEEP = timedelta(days=7)
_TABLE: Any = ProcessedUpdate.__table__  # type: ignore[attr-defined]  # Core statements


async def claim_update(
    *, session: AsyncSession, channel: str, update_id: int | str, now: datetime
) -> bool:
    """True the first time this update is seen; False for a replay (nothing written).

    On PostgreSQL a concurrent duplicate waits for the first transaction and then sees the row;
    on SQLite the write transaction (BEGIN IMMEDIATE) serialises them."""
    stmt = (
        dialect_insert(session, ProcessedUpdate)
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
    params = {"mark_channel": channel, "mark_update_id": str(update_id), "mark_replies": replies}
    await session.execute(_MARK, params)


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


def delivered_copy(replies: list[Any], indices: Sequence[int]) -> list[Any]:
    """The stored replies with `delivered` set at `indices`, masked (`without_secrets`)."""
    chosen = set(indices)
    return [  # masked again: the caller's copy may be the unmasked one it stored
        without_secrets({**reply, "delivered": True})
        if i in chosen and isinstance(reply, dict)
        else without_secrets(reply)
        for i, reply in enumerate(replies)
    ]


async def record_update(
    *,
    session: AsyncSession,
    channel: str,
    update_id: int | str,
    now: datetime,
    replies: list[dict[str, Any]] | None = None,
    marks: Sequence[Mark] = (),
) -> bool:
    """Record a processed update with its replies (masked; none: NULL, a replay stays
    silent) and write `marks` (earlier updates' replies with their delivered flags), in one
    statement. True when this update's row was inserted; False when it was already there (a
    concurrent duplicate committed first): the caller must roll back and replay it."""
    key = str(update_id)
    params = record_params(channel=channel, update_id=key, now=now, replies=replies, marks=marks)
    written = (await session.execute(_record_statement(params["rows"]), params["values"])).all()
    return any(tuple(row) == (channel, key) for row in written)


def record_params(
    *,
    channel: str,
    update_id: int | str,
    now: datetime,
    replies: list[dict[str, Any]] | None = None,
    marks: Sequence[Mark] = (),
) -> dict[str, Any]:
    """`record_update`'s statement size ("rows") and bound values ("values")."""
    key = str(update_id)
    rows = [
        {
            "channel": channel,
            "update_id": key,
            "processed_at": require_aware(now),
            "replies": [without_secrets(reply) for reply in replies or ()] or None,
        }
    ]
    if any((m.channel, m.update_id) == (channel, key) for m in marks):
        raise ValueError("an update's own delivered mark cannot ride on its claim")
    rows += [
        {"channel": m.channel, "update_id": m.update_id, "processed_at": m.at, "replies": m.replies}
        for m in marks
    ]
    rows.sort(key=lambda row: (row["channel"], row["update_id"]))  # one lock order everywhere
    values: dict[str, Any] = {"this_channel": channel, "this_update_id": key}
    for i, row in enumerate(rows):
        values.update({f"{name}_{i}": value for name, value in row.items()})
    return {"rows": len(rows), "values": values}


def record_cte(rows: int) -> Any:
    """`record_update`'s INSERT for `rows` rows as a CTE ("claim": the channel and update id of
    every row written), for a PostgreSQL statement that claims and reads in one round trip."""
    return _record_statement(rows).columns(_TABLE.c.channel, _TABLE.c.update_id).cte("claim")


@lru_cache(maxsize=64)
def _record_statement(rows: int) -> TextClause:
    """`record_update`'s INSERT for `rows` rows, built once per row count. A multi-row
    `insert().values([...])` has no SQLAlchemy cache key and was compiled again on every
    turn; this text (the same on SQLite and PostgreSQL) is cached like any other statement.
    A conflicting row gets the new replies (a delivered mark), except this update's own row:
    a duplicate, which RETURNING then leaves out."""
    names = ("channel", "update_id", "processed_at", "replies")
    values = ", ".join("(" + ", ".join(f":{name}_{i}" for name in names) + ")" for i in range(rows))
    sql = (
        f"INSERT INTO processed_update ({', '.join(names)}) VALUES {values} "
        "ON CONFLICT (channel, update_id) DO UPDATE SET replies = excluded.replies "
        "WHERE NOT (excluded.channel = :this_channel AND excluded.update_id = :this_update_id) "
        "RETURNING channel, update_id"
    )
    types = {name: _TABLE.c[name].type for name in names}
    return text(sql).bindparams(
        *(bindparam(f"{name}_{i}", type_=types[name]) for i in range(rows) for name in names),
        bindparam("this_channel", type_=types["channel"]),
        bindparam("this_update_id", type_=types["update_id"]),
    )


_MARK = (
    update(_TABLE)
    .where(
        _TABLE.c.channel == bindparam("mark_channel"),
        _TABLE.c.update_id == bindparam("mark_update_id"),
    )
    .values(replies=bindparam("mark_replies"))
)


async def write_marks(*, session: AsyncSession, marks: Sequence[Mark]) -> None:
    """Write delivered marks on their own (one statement for all of them)."""
    if not marks:
        return
    await session.execute(
        _MARK,
        [
            {"mark_channel": m.channel, "mark_update_id": m.update_id, "mark_replies": m.replies}
            for m in marks
        ],
    )


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
    await _set_replies(session, channel, update_id, delivered_copy(replies, indices))


async def forget_old_updates(
    *, session: AsyncSession, now: datetime, keep: timedelta = KEEP
) -> int:
    """Delete records older than `keep` (Telegram never replays an update that old)."""
    result: Any = await session.execute(
        delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < require_aware(now) - keep)
    )
    return int(result.rowcount or 0)
