"""The outbox: every proactive message (reminder, escalation, nudge, digest) is a row here first.

Jobs only *write* rows; the sender (scheduler.sender) delivers them. A row is written once per
`key` (unique): `enqueue` is `INSERT ... ON CONFLICT (key) DO NOTHING`, so running a job twice, a
catch-up after downtime, or two schedulers at once cannot create a second message.

Row life: `pending` -> claimed (claimed_at set) -> `sent` (message_id) | `failed` (error) | back to
pending with a later `not_before` (retry) | `withdrawn` (a reminder whose unit reported meanwhile,
`storage.reminders.withdraw`). A claim is a lease: a claim older than `CLAIM_LEASE`
(a sender that died) may be claimed again; a live sender renews its leases (`renew_claims`).
On PostgreSQL claiming uses `FOR UPDATE SKIP LOCKED`; on SQLite the write transaction
(BEGIN IMMEDIATE) serialises claimers. There is no claimed_by column: `worker_id` is only logged.

`claim_batch` claims oldest first. `claim_window` is the sender's claim: it looks at chats, not
only at age, so a chat with many queued messages (1 msg/s per chat) is seen at once instead of
after the whole backlog ahead of it (see its docstring).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.clock import require_aware
from storage.models import Outbox
from storage.rows import dialect_insert, update_rows

log = logging.getLogger(__name__)

STATUS_PENDING = "pending"
STATUS_SENT = "sent"
STATUS_FAILED = "failed"
STATUS_WITHDRAWN = "withdrawn"  # a reminder the unit answered before it went out

CLAIM_LEASE = timedelta(minutes=5)
ERROR_MAX = 500


def _row(
    *,
    key: str,
    kind: str,
    person_id: int | None,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None,
    channel: str | None,
    chat_id: str | None,
) -> dict[str, Any]:
    if len(key) > 200:
        raise ValueError(f"outbox key too long: {key[:40]}...")
    if person_id is None and (channel is None or chat_id is None):
        raise ValueError("an outbox row needs a person or an explicit channel and chat_id")
    return {
        "key": key,
        "kind": kind,
        "person_id": person_id,
        "channel": channel,
        "chat_id": chat_id,
        "payload": payload,
        "status": STATUS_PENDING,
        "attempts": 0,
        "not_before": require_aware(not_before or now),
        "created_at": require_aware(now),
    }


async def enqueue(
    *,
    session: AsyncSession,
    key: str,
    kind: str,
    person_id: int | None,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    channel: str | None = None,
    chat_id: str | None = None,
) -> bool:
    """Queue one message; False when a row with this key already exists (nothing written)."""
    row = _row(
        key=key,
        kind=kind,
        person_id=person_id,
        payload=payload,
        now=now,
        not_before=not_before,
        channel=channel,
        chat_id=chat_id,
    )
    stmt = (
        dialect_insert(session, Outbox).values(row).on_conflict_do_nothing(index_elements=["key"])
    )
    result = await session.execute(stmt.returning(col(Outbox.id)))
    return result.first() is not None


async def enqueue_many(
    *, session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime
) -> list[str]:
    """Bulk `enqueue`: each row has the keyword arguments of `enqueue` (key, kind, person_id,
    payload, optional not_before/channel/chat_id). Returns the keys actually inserted."""
    if not rows:
        return []
    values = [
        _row(
            key=r["key"],
            kind=r["kind"],
            person_id=r.get("person_id"),
            payload=r["payload"],
            now=now,
            not_before=r.get("not_before"),
            channel=r.get("channel"),
            chat_id=r.get("chat_id"),
        )
        for r in rows
    ]
    inserted: list[str] = []
    # Chunked multi-row INSERTs keep the bound-parameter count under SQLite's limit.
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        stmt = (
            dialect_insert(session, Outbox)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(col(Outbox.key))
        )
        inserted.extend((await session.execute(stmt)).scalars().all())
    return inserted


async def existing_keys(*, session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of `keys` already have a row (any status)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        result = await session.execute(select(col(Outbox.key)).where(col(Outbox.key).in_(chunk)))
        found.update(result.scalars().all())
    return found


async def claim_batch(
    *,
    session: AsyncSession,
    now: datetime,
    limit: int,
    worker_id: str,
    due_by: datetime | None = None,
    lease: timedelta = CLAIM_LEASE,
) -> list[Outbox]:
    """Claim up to `limit` pending rows due by `due_by` (default `now`), oldest first; unclaimed
    rows and rows whose claim is older than `lease`. The caller commits the transaction at once, so
    the claim is visible to other senders before any message goes out."""
    require_aware(now)
    cutoff = require_aware(due_by or now)
    stale = now - lease
    query = (
        select(Outbox)
        .where(
            col(Outbox.status) == STATUS_PENDING,
            col(Outbox.not_before) <= cutoff,
            or_(col(Outbox.claimed_at).is_(None), col(Outbox.claimed_at) < stale),
        )
        .order_by(col(Outbox.not_before), col(Outbox.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.execute(query)).scalars().all())
    if not rows:
        return []
    await _claim(session, rows, now=now, worker_id=worker_id)
    return rows


async def _claim(
    session: AsyncSession, rows: Sequence[Outbox], *, now: datetime, worker_id: str
) -> None:
    """Mark the rows (read in this transaction) claimed at `now`, in the database and in place."""
    await update_rows(
        session, Outbox, {"claimed_at": now}, col(Outbox.id).in_([r.id for r in rows])
    )
    for row in rows:
        row.claimed_at = now
    log.debug("worker %s claimed %d outbox rows", worker_id, len(rows))


async def claim_window(
    *,
    session: AsyncSession,
    now: datetime,
    limit: int,
    per_chat: int,
    worker_id: str,
    due_by: datetime | None = None,
    lease: timedelta = CLAIM_LEASE,
) -> list[tuple[Outbox, int]]:
    """Claim up to `limit` rows for a sender that paces each chat on its own.

    A chat is a person (rows routed through the person's identities) or, for rows without a
    person, an explicit chat_id. Only the first `per_chat` pending due rows of each chat (by
    not_before, id; claimed or not) can be claimed, so one long chat queue cannot fill the
    window. Among those, rows with more rows behind them in their chat come first (a chat with n
    messages needs n seconds however fast the bot may send: it is the long pole), then the oldest.
    Within a chat this is oldest first. Returns (row, due rows behind it in its chat).

    On PostgreSQL the ranking is read without locks, then the chosen rows are taken
    `FOR UPDATE SKIP LOCKED` (rechecking that they are still pending and unclaimed), as
    `claim_batch` does. The caller commits at once."""
    if per_chat < 1:
        raise ValueError("per_chat must be at least 1")
    require_aware(now)
    cutoff = require_aware(due_by or now)
    stale = now - lease
    chat = (
        col(Outbox.person_id),
        case((col(Outbox.person_id).is_(None), col(Outbox.chat_id))),
    )
    age = (col(Outbox.not_before), col(Outbox.id))
    # Step 1, no locks: rank each chat's pending due rows in one scan (no join back to the
    # table: with fresh rows and no statistics yet, PostgreSQL would rerun the window per row).
    ranked = (
        select(
            col(Outbox.id).label("id"),
            col(Outbox.not_before).label("not_before"),
            col(Outbox.claimed_at).label("claimed_at"),
            func.row_number().over(partition_by=chat, order_by=age).label("rank"),
            func.count().over(partition_by=chat).label("size"),
        )
        .where(col(Outbox.status) == STATUS_PENDING, col(Outbox.not_before) <= cutoff)
        .subquery()
    )
    behind = (ranked.c.size - ranked.c.rank).label("behind")
    postgres = session.get_bind().dialect.name == "postgresql"
    candidates = (
        await session.execute(
            select(ranked.c.id, behind)
            .where(
                ranked.c.rank <= per_chat,
                or_(ranked.c.claimed_at.is_(None), ranked.c.claimed_at < stale),
            )
            .order_by(behind.desc(), ranked.c.not_before, ranked.c.id)
            # Another sender may lock some of them first (PostgreSQL): look a little further.
            .limit(limit * 2 if postgres else limit)
        )
    ).all()
    if not candidates:
        return []
    # Step 2: take the rows, skipping those another sender is claiming right now.
    query = select(Outbox).where(
        col(Outbox.id).in_([i for i, _ in candidates]),
        col(Outbox.status) == STATUS_PENDING,
        or_(col(Outbox.claimed_at).is_(None), col(Outbox.claimed_at) < stale),
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    taken = {row.id: row for row in (await session.execute(query)).scalars()}
    found = [(taken[i], int(n)) for i, n in candidates if i in taken][:limit]
    if not found:
        return []
    await _claim(session, [row for row, _ in found], now=now, worker_id=worker_id)
    return found


async def renew_claims(*, session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    """Extend the lease of rows still being worked on."""
    await _set_pending(session, ids, {"claimed_at": require_aware(now)})


async def release(*, session: AsyncSession, ids: Sequence[int], not_before: datetime) -> None:
    """Give claimed rows back unsent, due again at `not_before` (no attempt counted)."""
    await _set_pending(session, ids, {"claimed_at": None, "not_before": require_aware(not_before)})


async def _set_pending(session: AsyncSession, ids: Sequence[int], values: dict[str, Any]) -> None:
    """Set `values` on those of the rows `ids` that are still pending."""
    if ids:
        pending = col(Outbox.status) == STATUS_PENDING
        await update_rows(session, Outbox, values, col(Outbox.id).in_(list(ids)), pending)


async def mark_sent(
    *, session: AsyncSession, outbox_id: int, message_id: str, now: datetime
) -> None:
    """The message went out (`mark_sent_many` for one row)."""
    await mark_sent_many(session=session, sent=[(outbox_id, message_id, now)])


async def mark_sent_many(
    *, session: AsyncSession, sent: Sequence[tuple[int, str, datetime]]
) -> None:
    """Several messages went out, marked in one statement: (outbox id, message id, sent at)."""
    if not sent:
        return
    table: Table = Outbox.__table__  # type: ignore[attr-defined]
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status=STATUS_SENT,
            message_id=bindparam("b_message_id"),
            sent_at=bindparam("b_sent_at"),
            attempts=table.c.attempts + 1,
            error=None,
        ),
        [{"b_id": i, "b_message_id": m[:64], "b_sent_at": require_aware(at)} for i, m, at in sent],
    )


async def mark_retry(
    *, session: AsyncSession, outbox_id: int, not_before: datetime, error: str
) -> None:
    """One attempt failed; try again at `not_before`."""
    await session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id)
        .values(
            status=STATUS_PENDING,
            not_before=require_aware(not_before),
            claimed_at=None,
            attempts=col(Outbox.attempts) + 1,
            error=error[:ERROR_MAX],
        )
    )


async def mark_failed(
    *, session: AsyncSession, outbox_ids: Sequence[int], reason: str, attempted: bool = True
) -> None:
    """Give up on rows for good. `attempted` counts one more attempt (False when nothing was sent,
    e.g. the person has no chat identity)."""
    if not outbox_ids:
        return
    values: dict[str, Any] = {
        "status": STATUS_FAILED,
        "claimed_at": None,
        "error": reason[:ERROR_MAX],
    }
    if attempted:
        values["attempts"] = col(Outbox.attempts) + 1
    await update_rows(session, Outbox, values, col(Outbox.id).in_(list(outbox_ids)))


async def counts_by_status(*, session: AsyncSession) -> dict[str, int]:
    """{status: rows}, for the CLI and the demo."""
    result = await session.execute(
        select(col(Outbox.status), func.count()).group_by(col(Outbox.status))
    )
    return {status: count for status, count in result.all()}
