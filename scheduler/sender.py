"""The sender: drains the outbox through the channel adapters, within the rate limits.

One drain: claim a window of rows by chat (`outbox.claim_window`: at most `per_chat` rows of a
chat, long chat queues first), route each row to a chat (the row's own channel/chat_id, else the
person's preferred channel, else the identity seen last) and queue it in that chat's FIFO. One
pacer then picks, at each global slot, the ready chat whose head row has the most rows behind it
(then the oldest), so a chat that must wait (1 s spacing, 20/min for groups, a 429 cool-down, a
send under way) never holds back the others, and a long chat queue runs alongside the rest
instead of after it. The window is refilled as it empties.

After each send the row is marked sent in a transaction committed at once (results that arrive
during a commit go in the next one), so a key is sent at most once as long as the process lives;
a sender killed between the platform's answer and that commit leaves a claimed row that is sent
again after the claim lease (5 min), the only window.

Outcomes: `RetryAfter` -> the row is due again after the wait and the chat cools down;
`TransientError` -> exponential back-off with jitter, failed after `max_attempts`;
`Unreachable` -> the row failed and the person marked unreachable (the admin's digest says so).
When a chat's row is deferred, its later rows are deferred with it (each chat stays in order);
they stay pending with `not_before` set and the drain goes on with the other chats.
A row carrying quiet hours in its payload (reminders) is held back until they end. A reminder
or nudge whose unit has reported what it asks for is withdrawn when claimed, not sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from scheduler.channels import Channel, RetryAfter, SendResult, TransientError, Unreachable
from scheduler.drain_state import ChatQueue, Drain, Item, Sent, Stats
from scheduler.ratelimit import RateLimiter
from scheduler.routing import quiet_until, route_rows
from storage import outbox
from storage.clock import Clock, require_aware
from storage.db import Database
from storage.messages import OutgoingMessage, PayloadError
from storage.models import Outbox, Person
from storage.reminders.withdraw import withdraw_answered

log = logging.getLogger(__name__)

_NEXT_DRAIN = timedelta(seconds=1)  # the least a deferral lasts: past the drain's `due_by`
PHOTO_SENT = "photo_sent"  # payload flag: the photo part of the row went out
_EPSILON = 1e-9  # seconds: a chat ready at a slot's time (up to rounding) is ready at that slot


class Sender:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel] | Iterable[Channel],
        limiter: RateLimiter,
        *,
        clock: Clock,
        worker_id: str | None = None,
        batch_size: int = 500,
        per_chat: int = 20,
        max_attempts: int = 5,
        max_rate_limited: int = 20,
        backoff_base: float = 5.0,
        backoff_cap: float = 3600.0,
        rng: random.Random | None = None,
        lease: timedelta = outbox.CLAIM_LEASE,
    ) -> None:
        self.db = db
        self.channels: dict[str, Channel] = (
            dict(channels) if isinstance(channels, Mapping) else {c.name: c for c in channels}
        )
        self.limiter = limiter
        self.clock = clock
        self.worker_id = worker_id or uuid.uuid4().hex[:8]
        self.batch_size = batch_size
        self.per_chat = per_chat
        self.max_attempts = max_attempts
        self.max_rate_limited = max_rate_limited
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rng = rng or random.Random()
        self.lease = lease
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock() if db.is_sqlite else None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. On SQLite, this process's writers queue here instead of in
        SQLite's busy handler, whose sleeps would cap the send rate."""
        if self._write_lock is None:
            async with self.db.write() as session:
                yield session
            return
        async with self._write_lock, self.db.write() as session:
            yield session

    def wake(self) -> None:
        """Something was just queued: `run_forever` drains now instead of after its idle wait."""
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number `attempts` (1-based): exponential, 'equal jitter'."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    # ------------------------------------------------------------------------------ draining

    async def drain_once(self, now: datetime | None = None) -> Stats:
        """Send everything due at `now` (default: the clock); returns what happened. Rows that
        become due again during the drain (retries) wait for the next drain."""
        drain = Drain(due_by=require_aware(now or self.clock()))
        heartbeat = asyncio.create_task(self._heartbeat(drain))
        try:
            await self._pace(drain)
        finally:
            heartbeat.cancel()
            for task in list(drain.tasks):
                task.cancel()
        return drain.stats

    async def run_forever(self, stop_event: asyncio.Event, *, idle_seconds: float = 2.0) -> None:
        """Drain until `stop_event` is set; between empty drains wait `idle_seconds` or `wake()`."""
        while not stop_event.is_set():
            stats = await self.drain_once()
            if stats.claimed:
                log.info("outbox drained: %s", stats)
                continue
            self._wake.clear()
            stop = asyncio.ensure_future(stop_event.wait())
            wake = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait(
                    {stop, wake}, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stop.cancel()
                wake.cancel()

    # --------------------------------------------------------------------------------- pacing

    async def _pace(self, drain: Drain) -> None:
        """The one loop that decides what goes out: at each global slot, the ready chat whose
        head row has the most rows behind it (then the oldest). A chat that must wait (spacing,
        cool-down, a send under way) is skipped, never waited for."""
        while True:
            drain.changed.clear()
            if drain.error is not None:
                raise drain.error
            self._maybe_claim(drain)
            chat, wait = self._pick(drain)
            if chat is not None:
                self._start(drain, chat)
                continue
            if wait is None and not drain.tasks:
                return
            await self._wait(drain, wait)

    def _pick(self, drain: Drain) -> tuple[ChatQueue | None, float | None]:
        """The chat to send to now, else how long until one may be ready (None: until
        something changes)."""
        now = self.limiter.clock()
        best: ChatQueue | None = None
        best_key: tuple[int, datetime, int] | None = None
        earliest: float | None = None
        for route, chat in list(drain.chats.items()):
            if not chat.items:
                if not chat.busy:
                    del drain.chats[route]
                continue
            if chat.busy:
                continue
            ready = self.limiter.chat_ready_at(route[1])
            if ready > now + _EPSILON:
                earliest = ready if earliest is None else min(earliest, ready)
                continue
            head = chat.items[0]
            key = (-head.behind, head.row.not_before, head.row.id or 0)
            if best_key is None or key < best_key:
                best, best_key = chat, key
        if best is None:
            return None, None if earliest is None else earliest - now
        slot = self.limiter.next_global()
        if slot > now + _EPSILON:
            return None, slot - now
        return best, None

    async def _wait(self, drain: Drain, seconds: float | None) -> None:
        """Sleep `seconds` on the limiter's clock, or until a send, a write or a claim ends."""
        if drain.changed.is_set():
            return
        changed = asyncio.ensure_future(drain.changed.wait())
        waiters: set[asyncio.Future[Any]] = {changed}
        if seconds is not None:
            waiters.add(asyncio.ensure_future(self.limiter.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _spawn(self, drain: Drain, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        drain.tasks.add(task)
        task.add_done_callback(lambda done: self._task_done(drain, done))

    @staticmethod
    def _task_done(drain: Drain, task: asyncio.Task[None]) -> None:
        drain.tasks.discard(task)
        drain.changed.set()
        if not task.cancelled() and task.exception() is not None and drain.error is None:
            drain.error = task.exception()  # a bug: re-raised by the pacer, not hidden

    def _settled(self, drain: Drain, ids: Iterable[int | None]) -> None:
        drain.inflight.difference_update(i for i in ids if i is not None)
        drain.claim_more = True  # a row left the chat queues: more may be claimable now

    # -------------------------------------------------------------------------------- claiming

    def _maybe_claim(self, drain: Drain) -> None:
        """Refill the window when a quarter of it is free (or it is empty), one claim at a time,
        and only if the last claim found rows or a row was settled since."""
        if drain.claiming or not drain.claim_more:
            return
        # The window is what waits to be sent; rows already sent (their `sent` write pending)
        # do not hold it up.
        queued = sum(len(chat.items) + chat.busy for chat in drain.chats.values())
        room = self.batch_size - queued
        if room <= 0 or (queued and room < max(1, self.batch_size // 4)):
            return
        drain.claiming = True
        drain.claim_more = False
        self._spawn(drain, self._claim(drain, room))

    async def _claim(self, drain: Drain, room: int) -> None:
        try:
            async with self._write() as session:
                found = await outbox.claim_window(
                    session=session,
                    now=max(drain.due_by, self.clock()),
                    due_by=drain.due_by,
                    limit=room,
                    per_chat=self.per_chat,
                    worker_id=self.worker_id,
                    lease=self.lease,
                )
                # A reminder stops the day the unit reports: those answered are not sent.
                answered = await withdraw_answered(session=session, rows=[r for r, _ in found])
            if answered:
                drain.stats.withdrawn += len(answered)
                drain.claim_more = True
                found = [(row, behind) for row, behind in found if row.id not in answered]
            if found:
                drain.stats.claimed += len(found)
                drain.inflight.update(row.id for row, _ in found if row.id is not None)
                drain.claim_more = True
                await self._enqueue(drain, found)
        finally:
            drain.claiming = False

    async def _heartbeat(self, drain: Drain) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            if drain.inflight:
                async with self._write() as session:
                    await outbox.renew_claims(
                        session=session, ids=sorted(drain.inflight), now=self.clock()
                    )

    async def _enqueue(self, drain: Drain, found: list[tuple[Outbox, int]]) -> None:
        """Append claimed rows to their chats' queues (claim order is each chat's order); rows
        that cannot be delivered fail, rows of a chat deferred or dead in this drain follow it."""
        routes = await route_rows(self.db, [row for row, _ in found], self.channels)
        failed: dict[str, list[int]] = defaultdict(list)
        released: dict[datetime, list[int]] = defaultdict(list)
        for row, behind in found:
            assert row.id is not None
            route = routes[row.id]
            if isinstance(route, str):
                failed[route].append(row.id)
            elif route[0] not in self.channels:
                failed[f"channel {route[0]!r} is not configured"].append(row.id)
            elif route in drain.dead:
                failed[drain.dead[route]].append(row.id)
            elif route in drain.deferred:
                released[drain.deferred[route]].append(row.id)
            else:
                chat = drain.chats.get(route)
                if chat is None:
                    chat = drain.chats[route] = ChatQueue(route)
                chat.items.append(Item(row, behind))
        if not failed and not released:
            return
        async with self._write() as session:
            for reason, ids in failed.items():
                await outbox.mark_failed(
                    session=session, outbox_ids=ids, reason=reason, attempted=False
                )
                drain.stats.failed += len(ids)
            for not_before, ids in released.items():
                await outbox.release(session=session, ids=ids, not_before=not_before)
                drain.stats.deferred += len(ids)
        for ids in (*failed.values(), *released.values()):
            self._settled(drain, ids)

    # ------------------------------------------------------------------------------- sending

    def _start(self, drain: Drain, chat: ChatQueue) -> None:
        """Send the head row of `chat` (chosen by the pacer) in a task of its own."""
        item = chat.items.popleft()
        row = item.row
        assert row.id is not None
        quiet = quiet_until(self.clock(), row)
        if quiet is not None:  # held back until the quiet hours end; no slot used
            chat.items.appendleft(item)
            self._defer(drain, chat, quiet)
            return
        try:
            message = OutgoingMessage.from_payload(row.payload)
        except PayloadError as exc:
            drain.stats.failed += 1
            self._spawn(drain, self._fail(drain, [row.id], str(exc)))
            return
        self.limiter.take(chat.route[1])
        chat.busy = True
        self._spawn(drain, self._send(drain, chat, row, message))

    def _defer(self, drain: Drain, chat: ChatQueue, until: datetime) -> None:
        """Nothing more to this chat in this drain: its queued rows go back, due at `until`."""
        until = max(until, drain.due_by + _NEXT_DRAIN)
        drain.deferred[chat.route] = until
        ids = [item.row.id for item in chat.items if item.row.id is not None]
        chat.items.clear()
        if ids:
            drain.stats.deferred += len(ids)
            self._spawn(drain, self._release(drain, ids, until))

    async def _release(self, drain: Drain, ids: list[int], until: datetime) -> None:
        async with self._write() as session:
            await outbox.release(session=session, ids=ids, not_before=until)
        self._settled(drain, ids)

    async def _fail(
        self, drain: Drain, ids: list[int], reason: str, *, attempted: bool = True
    ) -> None:
        async with self._write() as session:
            await outbox.mark_failed(
                session=session, outbox_ids=ids, reason=reason, attempted=attempted
            )
        self._settled(drain, ids)

    async def _send(
        self, drain: Drain, chat: ChatQueue, row: Outbox, message: OutgoingMessage
    ) -> None:
        """One platform call, then its outcome committed at once. What the outcome means for
        the chat's next rows is decided before any other await, so the pacer never sends a
        chat's next row before this one's fate is known (each chat stays in order)."""
        try:
            await self._send_and_record(drain, chat, row, message)
        finally:
            chat.busy = False

    async def _send_and_record(
        self, drain: Drain, chat: ChatQueue, row: Outbox, message: OutgoingMessage
    ) -> None:
        assert row.id is not None
        stats = drain.stats
        channel_name, chat_id = chat.route
        try:
            result = await self._parts(row, channel_name, chat_id, message)
        except RetryAfter as exc:
            chat.busy = False
            stats.rate_limited += 1
            self.limiter.cool_down(chat_id, exc.seconds)
            await self._retry_or_fail(
                drain, chat, row, exc.seconds, f"rate limited: {exc}", self.max_rate_limited
            )
        except TransientError as exc:
            chat.busy = False
            delay = self.backoff(row.attempts + 1)
            await self._retry_or_fail(
                drain, chat, row, delay, f"transient: {exc.reason}", self.max_attempts
            )
        except Unreachable as exc:
            chat.busy = False
            reason = f"unreachable: {exc.reason}"
            drain.dead[chat.route] = reason
            rest = [item.row.id for item in chat.items if item.row.id is not None]
            chat.items.clear()
            async with self._write() as session:
                await outbox.mark_failed(session=session, outbox_ids=[row.id], reason=reason)
                await outbox.mark_failed(
                    session=session, outbox_ids=rest, reason=reason, attempted=False
                )
                if row.person_id is not None:
                    await session.execute(
                        update(Person)
                        .where(col(Person.id) == row.person_id)
                        .values(unreachable_at=self.clock(), unreachable_reason=exc.reason[:255])
                    )
            stats.failed += 1 + len(rest)
            stats.unreachable += 1
            self._settled(drain, [row.id, *rest])
            log.info("person %s unreachable on %s: %s", row.person_id, channel_name, exc.reason)
        else:
            chat.busy = False
            drain.changed.set()
            drain.unrecorded.append(Sent(row.id, result.message_id, self.clock(), row.person_id))
            if not drain.recording:
                drain.recording = True
                self._spawn(drain, self._record_sent(drain))

    async def _parts(
        self, row: Outbox, channel_name: str, chat_id: str, message: OutgoingMessage
    ) -> SendResult:
        """A photo with a text (the digest and its chart) goes as two parts, the photo first;
        once the photo is out, the row records it (`photo_sent` in its payload, committed at
        once), so a retry of the text part never sends the chart again."""
        channel = self.channels[channel_name]
        has_photo = message.photo is not None or message.photo_path is not None
        if not has_photo or not message.text.strip():
            return await channel.send(chat_id, message)
        if not row.payload.get(PHOTO_SENT):
            photo = OutgoingMessage(text="", photo=message.photo, photo_path=message.photo_path)
            await channel.send(chat_id, photo)
            payload = {**row.payload, PHOTO_SENT: True}
            async with self._write() as session:
                await session.execute(
                    update(Outbox).where(col(Outbox.id) == row.id).values(payload=payload)
                )
            row.payload = payload
        text = OutgoingMessage(text=message.text, choices=message.choices, html=message.html)
        return await channel.send(chat_id, text)

    async def _record_sent(self, drain: Drain) -> None:
        """Commit `sent` for what the platform accepted, at once; what comes back while a
        commit is under way goes in the next one (a group commit: one transaction per send at
        a low rate, fewer under load, never a wait for a batch to fill)."""
        try:
            while drain.unrecorded:
                batch, drain.unrecorded = drain.unrecorded, []
                people = sorted({s.person_id for s in batch if s.person_id is not None})
                async with self._write() as session:
                    await outbox.mark_sent_many(
                        session=session, sent=[(s.outbox_id, s.message_id, s.at) for s in batch]
                    )
                    if people:
                        await session.execute(
                            update(Person)
                            .where(
                                col(Person.id).in_(people),
                                col(Person.unreachable_at).is_not(None),
                            )
                            .values(unreachable_at=None, unreachable_reason=None)
                        )
                drain.stats.sent += len(batch)
                self._settled(drain, [s.outbox_id for s in batch])
        finally:
            drain.recording = False

    async def _retry_or_fail(
        self, drain: Drain, chat: ChatQueue, row: Outbox, delay: float, error: str, limit: int
    ) -> None:
        assert row.id is not None
        if row.attempts + 1 >= limit:
            drain.stats.failed += 1
            log.warning("outbox row %s failed after %d attempts: %s", row.id, limit, error)
            await self._fail(drain, [row.id], error)
            return
        # Due again after this drain's horizon, so this drain does not take it up again.
        not_before = max(self.clock() + timedelta(seconds=delay), drain.due_by + _NEXT_DRAIN)
        self._defer(drain, chat, not_before)  # before any await: the chat's next rows wait too
        async with self._write() as session:
            await outbox.mark_retry(
                session=session, outbox_id=row.id, not_before=not_before, error=error
            )
        drain.stats.retried += 1
        self._settled(drain, [row.id])
