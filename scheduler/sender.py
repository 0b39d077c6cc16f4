"""The sender: drains the outbox through the channel adapters, within the rate limits.

One drain: claim a batch (committed at once), route each row to a chat (the row's own
channel/chat_id, else the person's preferred channel, else the identity seen last), then send
many chats in parallel and each chat's rows in order, each send paced by the `RateLimiter`.
After each send the row is marked sent in its own committed transaction, so a key is sent at
most once as long as the process lives; a sender killed between the platform's answer and that
commit leaves a claimed row that is sent again after the claim lease (5 min) — the only window.

Outcomes: `RetryAfter` -> the row is due again after the wait and the chat cools down;
`TransientError` -> exponential back-off with jitter, failed after `max_attempts`;
`Unreachable` -> the row failed and the person marked unreachable (the admin's digest says so).
When a chat's row is deferred, its later rows are deferred with it (each chat stays in order).
A row carrying quiet hours in its payload (reminders) is held back until they end.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.channels.base import (
    Channel,
    OutgoingMessage,
    PayloadError,
    RetryAfter,
    TransientError,
    Unreachable,
)
from scheduler.ratelimit import RateLimiter
from storage import outbox
from storage.clock import Clock, require_aware
from storage.db import Database
from storage.models import ChatIdentity, Outbox, Person
from storage.reminders import parse_hhmm, quiet_hours_end

log = logging.getLogger(__name__)

NO_IDENTITY = "no chat identity"
FORGOTTEN = "person forgotten"

Route = tuple[str, str]  # (channel name, chat id)


@dataclass(slots=True)
class Stats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    rate_limited: int = 0
    deferred: int = 0
    failed: int = 0
    unreachable: int = 0

    def add(self, other: Stats) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class _Drain:
    stats: Stats = field(default_factory=Stats)
    tails: dict[Route, asyncio.Task[None]] = field(default_factory=dict)
    deferred: dict[Route, datetime] = field(default_factory=dict)
    dead: dict[Route, str] = field(default_factory=dict)
    inflight: set[int] = field(default_factory=set)


class Sender:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel] | Iterable[Channel],
        limiter: RateLimiter,
        *,
        clock: Clock,
        worker_id: str | None = None,
        batch_size: int = 200,
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
        due_by = require_aware(now or self.clock())
        drain = _Drain()
        heartbeat = asyncio.create_task(self._heartbeat(drain))
        try:
            while True:
                room = self.batch_size - len(drain.inflight)
                if room < max(1, self.batch_size // 2) and drain.tails:
                    await asyncio.wait(
                        list(drain.tails.values()), return_when=asyncio.FIRST_COMPLETED
                    )
                    self._forget_done(drain)
                    continue
                async with self._write() as session:
                    rows = await outbox.claim_batch(
                        session=session,
                        now=max(due_by, self.clock()),
                        due_by=due_by,
                        limit=room,
                        worker_id=self.worker_id,
                        lease=self.lease,
                    )
                if not rows:
                    break
                drain.stats.claimed += len(rows)
                drain.inflight.update(row.id for row in rows if row.id is not None)
                await self._dispatch(drain, rows)
            if drain.tails:
                await asyncio.gather(*drain.tails.values())
        finally:
            heartbeat.cancel()
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

    def _forget_done(self, drain: _Drain) -> None:
        for route, task in list(drain.tails.items()):
            if task.done():
                del drain.tails[route]
                task.result()  # re-raise a bug in the chat task instead of hiding it

    async def _heartbeat(self, drain: _Drain) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            if drain.inflight:
                async with self._write() as session:
                    await outbox.renew_claims(
                        session=session, ids=sorted(drain.inflight), now=self.clock()
                    )

    # ------------------------------------------------------------------------------- routing

    async def _routes(self, rows: list[Outbox]) -> dict[int, Route | str]:
        """Row id -> (channel, chat id), or the reason it cannot be delivered."""
        routes: dict[int, Route | str] = {}
        person_ids = {r.person_id for r in rows if r.person_id is not None and not r.chat_id}
        identities: dict[int, list[ChatIdentity]] = defaultdict(list)
        preferred: dict[int, str | None] = {}
        forgotten: set[int] = set()
        if person_ids:
            async with self.db.read() as session:
                people = await session.execute(
                    select(
                        col(Person.id), col(Person.preferred_channel), col(Person.forgotten_at)
                    ).where(col(Person.id).in_(sorted(person_ids)))
                )
                for pid, channel, forgotten_at in people.all():
                    assert pid is not None
                    preferred[pid] = channel
                    if forgotten_at is not None:
                        forgotten.add(pid)
                found = await session.execute(
                    select(ChatIdentity).where(
                        col(ChatIdentity.person_id).in_(sorted(person_ids)),
                        col(ChatIdentity.chat_id).is_not(None),
                    )
                )
                for identity in found.scalars():
                    identities[identity.person_id].append(identity)
        for row in rows:
            assert row.id is not None
            if row.chat_id:
                channel = row.channel or next(iter(self.channels), "")
                routes[row.id] = (channel, row.chat_id)
                continue
            assert row.person_id is not None
            if row.person_id in forgotten:
                routes[row.id] = FORGOTTEN
                continue
            usable = [i for i in identities.get(row.person_id, []) if i.channel in self.channels]
            if row.channel:
                usable = [i for i in usable if i.channel == row.channel]
            if not usable:
                routes[row.id] = NO_IDENTITY
                continue
            pref = preferred.get(row.person_id)
            usable.sort(
                key=lambda i: (
                    i.channel == pref,
                    i.last_seen_at or i.bound_at,
                ),
                reverse=True,
            )
            best = usable[0]
            assert best.chat_id is not None
            routes[row.id] = (best.channel, best.chat_id)
        return routes

    async def _dispatch(self, drain: _Drain, rows: list[Outbox]) -> None:
        routes = await self._routes(rows)
        groups: dict[Route, list[Outbox]] = defaultdict(list)
        undeliverable: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            assert row.id is not None
            route = routes[row.id]
            if isinstance(route, str):
                undeliverable[route].append(row.id)
            elif route[0] not in self.channels:
                undeliverable[f"channel {route[0]!r} is not configured"].append(row.id)
            else:
                groups[route].append(row)
        if undeliverable:
            async with self._write() as session:
                for reason, ids in undeliverable.items():
                    await outbox.mark_failed(
                        session=session, outbox_ids=ids, reason=reason, attempted=False
                    )
            for ids in undeliverable.values():
                drain.stats.failed += len(ids)
                drain.inflight.difference_update(ids)
        for route, group in groups.items():
            previous = drain.tails.get(route)
            drain.tails[route] = asyncio.create_task(self._send_chat(drain, route, group, previous))

    # ------------------------------------------------------------------------------- sending

    async def _send_chat(
        self,
        drain: _Drain,
        route: Route,
        rows: list[Outbox],
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            for index, row in enumerate(rows):
                if route in drain.dead or route in drain.deferred:
                    await self._settle_rest(drain, route, rows[index:])
                    return
                await self._send_row(drain, route, row)
        finally:
            drain.inflight.difference_update(r.id for r in rows if r.id is not None)

    async def _settle_rest(self, drain: _Drain, route: Route, rows: list[Outbox]) -> None:
        ids = [r.id for r in rows if r.id is not None]
        async with self._write() as session:
            if route in drain.dead:
                await outbox.mark_failed(
                    session=session, outbox_ids=ids, reason=drain.dead[route], attempted=False
                )
                drain.stats.failed += len(ids)
            else:
                await outbox.release(session=session, ids=ids, not_before=drain.deferred[route])
                drain.stats.deferred += len(ids)

    def _quiet_until(self, row: Outbox) -> datetime | None:
        quiet: Any = row.payload.get("quiet")
        if not isinstance(quiet, dict):
            return None
        try:
            return quiet_hours_end(
                self.clock(),
                tz=str(quiet["tz"]),
                start=parse_hhmm(quiet["start"], "quiet"),
                end=parse_hhmm(quiet["end"], "quiet"),
            )
        except (KeyError, ValueError) as exc:
            log.warning("outbox row %s: bad quiet hours %r: %s", row.id, quiet, exc)
            return None

    async def _send_row(self, drain: _Drain, route: Route, row: Outbox) -> None:
        assert row.id is not None
        stats = drain.stats
        channel_name, chat_id = route
        wait = self._quiet_until(row)
        if wait is not None:
            drain.deferred[route] = wait
            await self._settle_rest(drain, route, [row])
            return
        try:
            message = OutgoingMessage.from_payload(row.payload)
        except PayloadError as exc:
            async with self._write() as session:
                await outbox.mark_failed(session=session, outbox_ids=[row.id], reason=str(exc))
            stats.failed += 1
            return
        await self.limiter.acquire(chat_id)
        try:
            result = await self.channels[channel_name].send(chat_id, message)
        except RetryAfter as exc:
            stats.rate_limited += 1
            self.limiter.cool_down(chat_id, exc.seconds)
            await self._retry_or_fail(
                drain, route, row, exc.seconds, f"rate limited: {exc}", self.max_rate_limited
            )
        except TransientError as exc:
            delay = self.backoff(row.attempts + 1)
            await self._retry_or_fail(
                drain, route, row, delay, f"transient: {exc.reason}", self.max_attempts
            )
        except Unreachable as exc:
            reason = f"unreachable: {exc.reason}"
            drain.dead[route] = reason
            async with self._write() as session:
                await outbox.mark_failed(session=session, outbox_ids=[row.id], reason=reason)
                if row.person_id is not None:
                    await session.execute(
                        update(Person)
                        .where(col(Person.id) == row.person_id)
                        .values(unreachable_at=self.clock(), unreachable_reason=exc.reason[:255])
                    )
            stats.failed += 1
            stats.unreachable += 1
            log.info("person %s unreachable on %s: %s", row.person_id, channel_name, exc.reason)
        else:
            async with self._write() as session:
                await outbox.mark_sent(
                    session=session,
                    outbox_id=row.id,
                    message_id=result.message_id,
                    now=self.clock(),
                )
                if row.person_id is not None:
                    await session.execute(
                        update(Person)
                        .where(
                            col(Person.id) == row.person_id,
                            col(Person.unreachable_at).is_not(None),
                        )
                        .values(unreachable_at=None, unreachable_reason=None)
                    )
            stats.sent += 1

    async def _retry_or_fail(
        self, drain: _Drain, route: Route, row: Outbox, delay: float, error: str, limit: int
    ) -> None:
        assert row.id is not None
        async with self._write() as session:
            if row.attempts + 1 >= limit:
                await outbox.mark_failed(session=session, outbox_ids=[row.id], reason=error)
                drain.stats.failed += 1
                log.warning("outbox row %s failed after %d attempts: %s", row.id, limit, error)
                return
            not_before = self.clock() + timedelta(seconds=delay)
            await outbox.mark_retry(
                session=session, outbox_id=row.id, not_before=not_before, error=error
            )
        drain.stats.retried += 1
        drain.deferred[route] = not_before
