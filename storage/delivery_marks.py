"""Delivered marks that ride on the next write instead of a write of their own.

After a turn's replies went out, their `delivered` flags (`storage.updates`) only matter to a
replay of that update. Writing them at once cost every update a second write transaction. Now
they wait here, per database, and are written by the next turn's own INSERT
(`storage.updates.record_update(marks=...)`), or, when no turn comes, by one write
`FLUSH_AFTER` seconds later, and when the database is disposed of (`cadrebot run` stopping).
A replay in this process sees them at once (`applied`). What a kill loses is the marks of the
last fraction of a second: a replay after the restart may say those replies again (at least
once, never silence) — the window that was "between a send and its delivered mark" before.
Nothing here ever commits on a caller's behalf: `flush` opens its own write transaction."""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database

log = logging.getLogger(__name__)

FLUSH_AFTER = 1.0  # seconds a mark waits for a turn to carry it before it is written alone

Key = tuple[str, str]


@dataclass(frozen=True)
class Mark:
    """The stored replies of one processed update, as they must now read (masked, with the
    `delivered` flags of what went out); `at`: when the update was processed."""

    channel: str
    update_id: str
    replies: list[dict[str, Any]]
    at: datetime

    @property
    def key(self) -> Key:
        return (self.channel, self.update_id)


class PendingMarks:
    """The marks of one database not written yet: waiting, or taken by a transaction that has
    not committed (given back if it rolls back)."""

    def __init__(self, db: Database, flush_after: float | None = FLUSH_AFTER) -> None:
        self._db = weakref.ref(db)
        self.flush_after = flush_after
        self._waiting: dict[Key, Mark] = {}
        self._taken: dict[Key, Mark] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._flushing: asyncio.Task[None] | None = None

    def add(self, mark: Mark) -> None:
        self._waiting[mark.key] = mark
        self._schedule()

    def take(self, keep: Key | None = None) -> list[Mark]:
        """Everything waiting but the mark of `keep` (the update the write is about), for one
        write; `done` or `give_back` after it."""
        marks = [mark for key, mark in self._waiting.items() if key != keep]
        for mark in marks:
            del self._waiting[mark.key]
        self._taken.update((mark.key, mark) for mark in marks)
        return marks

    def done(self, marks: list[Mark]) -> None:
        for mark in marks:
            if self._taken.get(mark.key) is mark:
                del self._taken[mark.key]

    def give_back(self, marks: list[Mark]) -> None:
        """The write that took them rolled back: they wait again (a newer mark of the same
        update, added meanwhile, wins)."""
        self.done(marks)
        for mark in marks:
            self._waiting.setdefault(mark.key, mark)
        if marks:
            self._schedule()

    def discard(self, channel: str, update_id: str) -> None:
        """The update's marks were written by the caller itself."""
        self._waiting.pop((channel, update_id), None)

    def applied(
        self, channel: str, update_id: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The stored replies of a replayed update as this process knows them: with the
        delivered flags it has not written yet."""
        key = (channel, update_id)
        mark = self._waiting.get(key) or self._taken.get(key)
        if mark is None or len(mark.replies) != len(replies):
            return replies
        return [
            {**reply, "delivered": True} if done.get("delivered") else reply
            for reply, done in zip(replies, mark.replies, strict=True)
        ]

    # --- writing them alone ----------------------------------------------------------------

    def _schedule(self) -> None:
        if self.flush_after is None or not self._waiting:
            return
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._timer_loop is loop:
            return
        self._timer_loop = loop
        self._timer = loop.call_later(self.flush_after, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._waiting and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Write what waits (one write transaction)."""
        from storage.updates import write_marks

        db = self._db()
        marks = self.take()
        if db is None or not marks:
            self.done(marks)
            return
        try:
            async with db.write() as session:
                await write_marks(session=session, marks=marks)
        except Exception as exc:  # a replay may repeat these replies; nothing is lost
            self.give_back(marks)
            log.warning("delivered marks not written yet (%s)", type(exc).__name__)
        else:
            self.done(marks)

    async def close(self) -> None:
        """Before the database is disposed of: nothing scheduled, everything written."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        running, self._flushing = self._flushing, None
        if (
            running is not None
            and not running.done()
            and running.get_loop() is asyncio.get_running_loop()
        ):
            await running
        flush_after, self.flush_after = self.flush_after, None  # no timer from the last flush
        try:
            await self.flush()
        finally:
            self.flush_after = flush_after


_PENDING: weakref.WeakKeyDictionary[Database, PendingMarks] = weakref.WeakKeyDictionary()


def pending_marks(db: Database) -> PendingMarks:
    """The database's pending marks (written before `db.dispose()` completes)."""
    found = _PENDING.get(db)
    if found is None:
        found = _PENDING[db] = PendingMarks(db)
        db.before_dispose.append(found.close)
    return found
