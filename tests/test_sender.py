"""The sender: one send per key, retries after 429 and network errors, unreachable people."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from bisect import bisect_left
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import insert, select
from sqlmodel import col

from scheduler.channels import RetryAfter, SendResult, TransientError, Unreachable
from scheduler.ratelimit import RateLimiter
from scheduler.routing import NO_IDENTITY
from scheduler.sender import Sender
from storage import outbox
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import ChatIdentity, Outbox, Person
from tests.sched_fixtures import FakeChannel, FakeClock, JumpTime, local, make_person, must

NOW = local(2016, 6, 9, 8)


def _sender(db: Database, channel: FakeChannel, clock: FakeClock, **kwargs) -> Sender:
    jump = JumpTime()
    limiter = RateLimiter(rate=25, clock=jump, sleep=jump.sleep)
    return Sender(db, [channel], limiter, clock=clock, rng=random.Random(7), **kwargs)


async def _people(db: Database, *chats: str | None) -> list[int]:
    ids = []
    async with db.write() as session:
        for i, chat in enumerate(chats):
            person = await make_person(session, f"Người {i}", chat_id=chat)
            assert person.id is not None
            ids.append(person.id)
    return ids


async def _queue(db: Database, pid: int, key: str, text: str = "Nhắc", **extra) -> None:
    async with db.write() as session:
        payload = OutgoingMessage(text=text).to_payload() | extra.pop("payload_extra", {})
        await outbox.enqueue(
            session=session,
            key=key,
            kind="reminder",
            person_id=pid,
            payload=payload,
            now=NOW,
            **extra,
        )


async def _row(db: Database, key: str) -> Outbox:
    async with db.read() as session:
        return (await session.execute(select(Outbox).where(col(Outbox.key) == key))).scalar_one()


async def test_sends_once_and_records_the_message_id(db: Database) -> None:
    (pid,) = await _people(db, "101")
    await _queue(db, pid, "k1", "Kính gửi đồng chí")
    channel, clock = FakeChannel(), FakeClock(NOW)
    sender = _sender(db, channel, clock)
    stats = await sender.drain_once(NOW)
    again = await sender.drain_once(NOW + timedelta(hours=1))
    assert (stats.sent, again.claimed) == (1, 0)
    assert channel.texts_to("101") == ["Kính gửi đồng chí"]
    row = await _row(db, "k1")
    assert (row.status, row.message_id, row.attempts, row.sent_at) == ("sent", "1", 1, NOW)


async def test_retry_after_then_success(db: Database) -> None:
    (pid,) = await _people(db, "101")
    await _queue(db, pid, "k1")
    channel = FakeChannel(script={"101": [RetryAfter(5)]})
    clock = FakeClock(NOW)
    sender = _sender(db, channel, clock)
    first = await sender.drain_once(NOW)
    assert (first.rate_limited, first.sent, channel.sent) == (1, 0, [])
    row = await _row(db, "k1")
    assert (row.status, row.attempts, row.not_before) == ("pending", 1, NOW + timedelta(seconds=5))
    assert (await sender.drain_once(NOW + timedelta(seconds=4))).claimed == 0
    clock.advance(seconds=5)
    second = await sender.drain_once()
    assert second.sent == 1
    assert len(channel.sent) == 1
    row = await _row(db, "k1")
    assert (row.status, row.attempts) == ("sent", 2)


async def test_blocked_bot_marks_the_person_unreachable(db: Database) -> None:
    pid, other = await _people(db, "101", "102")
    await _queue(db, pid, "k1")
    await _queue(db, pid, "k2")
    await _queue(db, other, "k3")
    channel = FakeChannel(script={"101": [Unreachable("Forbidden: bot was blocked by the user")]})
    stats = await _sender(db, channel, FakeClock(NOW)).drain_once(NOW)
    assert (stats.unreachable, stats.failed, stats.sent) == (1, 2, 1)
    assert channel.calls == 2  # k2 was not even tried: the chat is dead
    k1, k2 = await _row(db, "k1"), await _row(db, "k2")
    assert (k1.status, k1.attempts) == ("failed", 1)
    assert k1.error == "unreachable: Forbidden: bot was blocked by the user"
    assert (k2.status, k2.attempts) == ("failed", 0)
    async with db.read() as session:
        person = await session.get(Person, pid)
    assert person is not None
    assert person.unreachable_at == NOW
    assert person.unreachable_reason == "Forbidden: bot was blocked by the user"
    assert (await _row(db, "k3")).status == "sent"


async def test_network_error_is_retried_with_backoff_then_sent(db: Database) -> None:
    (pid,) = await _people(db, "101")
    await _queue(db, pid, "k1")
    channel = FakeChannel(script={"101": [TransientError("timeout"), TransientError("502")]})
    clock = FakeClock(NOW)
    sender = _sender(db, channel, clock, backoff_base=10)
    await sender.drain_once()
    first_wait = (await _row(db, "k1")).not_before - NOW
    assert timedelta(seconds=5) <= first_wait <= timedelta(seconds=10)
    clock.now = (await _row(db, "k1")).not_before
    await sender.drain_once()
    second = await _row(db, "k1")
    assert (second.status, second.attempts, second.error) == ("pending", 2, "transient: 502")
    assert timedelta(seconds=10) <= second.not_before - clock.now <= timedelta(seconds=20)
    clock.now = second.not_before
    await sender.drain_once()
    row = await _row(db, "k1")
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)
    assert len(channel.sent) == 1


async def test_gives_up_after_max_attempts(db: Database) -> None:
    (pid,) = await _people(db, "101")
    await _queue(db, pid, "k1")
    channel = FakeChannel(script={"101": [TransientError("down")] * 10})
    clock = FakeClock(NOW)
    sender = _sender(db, channel, clock, max_attempts=3)
    for _ in range(5):
        await sender.drain_once()
        clock.advance(hours=2)
    row = await _row(db, "k1")
    assert (row.status, row.attempts, row.error) == ("failed", 3, "transient: down")
    assert channel.calls == 3


async def test_a_person_without_a_chat_is_failed_without_sending(db: Database) -> None:
    (pid,) = await _people(db, None)
    await _queue(db, pid, "k1")
    channel = FakeChannel()
    stats = await _sender(db, channel, FakeClock(NOW)).drain_once(NOW)
    assert stats.failed == 1 and channel.calls == 0
    row = await _row(db, "k1")
    assert (row.status, row.error, row.attempts) == ("failed", NO_IDENTITY, 0)


async def test_routes_to_the_preferred_or_the_last_used_identity(db: Database) -> None:
    pid, pref = await _people(db, "101", "102")
    async with db.write() as session:
        for person_id, chat, seen in ((pid, "z-1", NOW), (pref, "z-2", NOW)):
            session.add(
                ChatIdentity(
                    person_id=person_id,
                    channel="zalo",
                    external_id=chat,
                    chat_id=chat,
                    bound_at=NOW - timedelta(days=1),
                    last_seen_at=seen,
                )
            )
        person = await session.get(Person, pref)
        assert person is not None
        person.preferred_channel = "telegram"
    await _queue(db, pid, "k1")
    await _queue(db, pref, "k2")
    telegram, zalo = FakeChannel("telegram"), FakeChannel("zalo")
    jump = JumpTime()
    sender = Sender(
        db, [telegram, zalo], RateLimiter(clock=jump, sleep=jump.sleep), clock=FakeClock(NOW)
    )
    await sender.drain_once(NOW)
    assert [c for c, _ in zalo.sent] == ["z-1"]  # Zalo seen more recently than Telegram
    assert [c for c, _ in telegram.sent] == ["102"]  # preferred channel wins


async def test_each_chat_stays_in_order_even_after_a_retry(db: Database) -> None:
    (pid,) = await _people(db, "101")
    for i in range(4):
        await _queue(db, pid, f"k{i}", f"tin {i}")
    channel = FakeChannel(script={"101": [None, RetryAfter(3)]})
    clock = FakeClock(NOW)
    sender = _sender(db, channel, clock)
    stats = await sender.drain_once()
    assert (stats.sent, stats.retried, stats.deferred) == (1, 1, 2)
    clock.advance(seconds=3)
    await sender.drain_once()
    assert channel.texts_to("101") == ["tin 0", "tin 1", "tin 2", "tin 3"]


async def test_quiet_hours_hold_a_row_until_morning(db: Database) -> None:
    (pid,) = await _people(db, "101")
    quiet = {"quiet": {"tz": "Asia/Ho_Chi_Minh", "start": "21:00", "end": "07:00"}}
    late = local(2016, 6, 9, 22, 15)
    await _queue(db, pid, "k1", payload_extra=quiet, not_before=late)
    channel, clock = FakeChannel(), FakeClock(late)
    sender = _sender(db, channel, clock)
    await sender.drain_once()
    row = await _row(db, "k1")
    assert channel.calls == 0
    assert (row.status, row.attempts, row.not_before) == ("pending", 0, local(2016, 6, 10, 7))
    clock.now = local(2016, 6, 10, 7)
    await sender.drain_once()
    assert (await _row(db, "k1")).status == "sent"


async def test_many_chats_in_one_drain_each_sent_once(db: Database) -> None:
    pids = await _people(db, *(str(500 + i) for i in range(40)))
    async with db.write() as session:
        await outbox.enqueue_many(
            session=session,
            rows=[
                {"key": f"k{p}:{j}", "kind": "x", "person_id": p, "payload": {"text": f"{j}"}}
                for p in pids
                for j in range(3)
            ],
            now=NOW,
        )
    channel = FakeChannel()
    stats = await _sender(db, channel, FakeClock(NOW), batch_size=16).drain_once(NOW)
    assert stats.sent == 120
    assert len(channel.sent) == 120
    for i in range(40):
        assert channel.texts_to(str(500 + i)) == ["0", "1", "2"]


async def test_run_forever_stops_when_asked(db: Database) -> None:
    (pid,) = await _people(db, "101")
    await _queue(db, pid, "k1")
    await _queue(db, pid, "k2")
    stop = asyncio.Event()
    channel = FakeChannel(on_send=lambda chat, message: stop.set() if message.text else None)
    sender = _sender(db, channel, FakeClock(NOW))
    await asyncio.wait_for(sender.run_forever(stop), timeout=30)
    assert len(channel.sent) == 2  # the batch in hand is finished before stopping


async def test_two_senders_on_two_engines_send_each_row_once(db: Database) -> None:
    from tests.sched_fixtures import second_database

    pids = await _people(db, *(str(700 + i) for i in range(30)))
    async with db.write() as session:
        await outbox.enqueue_many(
            session=session,
            rows=[
                {"key": f"k{p}", "kind": "x", "person_id": p, "payload": {"text": "t"}}
                for p in pids
            ],
            now=NOW,
        )
    channel = FakeChannel()
    async with second_database(db) as other:
        a = _sender(db, channel, FakeClock(NOW), batch_size=4)
        b = _sender(other, channel, FakeClock(NOW), batch_size=4)
        stats = await asyncio.gather(a.drain_once(NOW), b.drain_once(NOW))
    assert sum(s.sent for s in stats) == 30
    assert sorted(c for c, _ in channel.sent) == sorted(str(700 + i) for i in range(30))


# ------------------------------------------------------------------ fan-out in virtual time


class _Timed(FakeChannel):
    """A FakeChannel that notes the limiter's (virtual) time of every accepted message."""

    def __init__(self, clock: JumpTime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.times: list[tuple[str, float]] = []

    async def send(self, chat_id: str, message: OutgoingMessage) -> SendResult:
        result = await super().send(chat_id, message)
        self.times.append((chat_id, self.clock()))
        return result

    def times_to(self, chat_id: str) -> list[float]:
        return [t for c, t in self.times if c == chat_id]


async def _bulk_people(db: Database, chats: list[str]) -> list[int]:
    """One person with one Telegram chat per entry (Core inserts: thousands of them)."""
    async with db.write() as session:
        result = await session.execute(
            insert(Person).returning(col(Person.id), sort_by_parameter_order=True),
            [{"full_name": f"Người {c}", "created_at": NOW} for c in chats],
        )
        ids = [must(i) for i in result.scalars().all()]
        await session.execute(
            insert(ChatIdentity),
            [
                {
                    "person_id": pid,
                    "channel": "telegram",
                    "external_id": chat,
                    "chat_id": chat,
                    "bound_at": NOW,
                    "last_seen_at": NOW,
                }
                for pid, chat in zip(ids, chats, strict=True)
            ],
        )
    return ids


async def _bulk_queue(db: Database, rows: list[tuple[int, str]]) -> None:
    """(person, text) in this order; the key is the text."""
    async with db.write() as session:
        await outbox.enqueue_many(
            session=session,
            rows=[
                {"key": text, "kind": "reminder", "person_id": pid, "payload": {"text": text}}
                for pid, text in rows
            ],
            now=NOW,
        )


class _InstantDb:
    """The test database seen by the sender, with the virtual clock standing still while it works:
    a claim or a record takes no virtual time, whatever the machine's real latency, so the pacing
    the tests measure is the sender's policy alone and the same on every run."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.busy = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @contextlib.asynccontextmanager
    async def _held(self, opened: Any) -> AsyncIterator[Any]:
        self.busy += 1
        self.idle.clear()
        try:
            async with opened as session:
                yield session
        finally:
            self.busy -= 1
            if not self.busy:
                self.idle.set()

    def read(self) -> Any:
        return self._held(self._db.read())

    def write(self) -> Any:
        return self._held(self._db.write())


class _FrozenWhileBusy(JumpTime):
    def __init__(self, db: _InstantDb) -> None:
        super().__init__()
        self.db = db

    async def sleep(self, seconds: float) -> None:
        await self.db.idle.wait()  # real time passes for the database; virtual time does not
        await super().sleep(seconds)


def _timed_sender(db: Database, **kwargs: Any) -> tuple[Sender, _Timed, JumpTime]:
    instant = _InstantDb(db)
    jump = _FrozenWhileBusy(instant)
    channel = _Timed(jump, script=kwargs.pop("script", {}))
    limiter = RateLimiter(rate=25, clock=jump, sleep=jump.sleep)
    sender = Sender(
        cast(Database, instant),
        [channel],
        limiter,
        clock=FakeClock(NOW),
        rng=random.Random(7),
        **kwargs,
    )
    return sender, channel, jump


def _worst_second(times: list[float]) -> int:
    """The most messages in any one-second window."""
    ordered = sorted(times)
    return max(bisect_left(ordered, t + 1.0 - 1e-9) - i for i, t in enumerate(ordered))


async def test_thirty_to_one_chat_do_not_stretch_a_fan_out_to_3000_chats(db: Database) -> None:
    # Issue 5: 3,000 reminders to distinct chats, then 30 to one chat (1 msg/s per chat). Sent
    # oldest first, the 30 came last and took 30 s on their own: ~150 s. The ideal is
    # max(3029 / 25, 29) = 121.2 s of sending.
    chats = [str(10_000 + i) for i in range(3001)]
    pids = await _bulk_people(db, chats)
    burst_pid, burst_chat = pids[-1], chats[-1]
    await _bulk_queue(
        db,
        [(pid, f"r{i}") for i, pid in enumerate(pids[:-1])]
        + [(burst_pid, f"b{j:02d}") for j in range(30)],
    )
    sender, channel, _ = _timed_sender(db)
    stats = await sender.drain_once(NOW)
    assert (stats.sent, stats.failed, stats.deferred, stats.rate_limited) == (3030, 0, 0, 0)
    texts = [m.text for _, m in channel.sent]
    assert len(texts) == len(set(texts)) == 3030  # no duplicate, no loss
    times = [t for _, t in channel.times]
    assert 121.1 <= max(times) - min(times) <= 123.0  # not ~150
    assert _worst_second(times) <= 25
    assert channel.texts_to(burst_chat) == [f"b{j:02d}" for j in range(30)]
    burst = channel.times_to(burst_chat)
    assert min(b - a for a, b in itertools.pairwise(burst)) >= 1.0 - 1e-9
    # Served about once a second from the start, not after the other 3,000 (~120 s).
    assert burst[0] == 0.0 and burst[28] <= 28.0 + 1e-6


async def test_a_cooling_chat_does_not_delay_other_chats(db: Database) -> None:
    chats = ["cool"] + [str(300 + i) for i in range(50)]
    pids = await _bulk_people(db, chats)
    await _bulk_queue(
        db,
        [(pids[0], f"c{j}") for j in range(5)] + [(pid, f"o{i}") for i, pid in enumerate(pids[1:])],
    )
    sender, channel, _ = _timed_sender(db, script={"cool": [RetryAfter(30)]})
    stats = await sender.drain_once(NOW)
    assert (stats.sent, stats.rate_limited, stats.retried, stats.deferred) == (50, 1, 1, 4)
    others = [t for c, t in channel.times if c != "cool"]
    assert len(others) == 50
    assert max(others) <= 50 / 25 + 0.1  # the 50 others at full rate, no wait for "cool"
    assert channel.texts_to("cool") == []
    cool = [await _row(db, f"c{j}") for j in range(5)]
    assert [(r.status, r.attempts, r.not_before) for r in cool] == [
        ("pending", 1, NOW + timedelta(seconds=30))
    ] + [("pending", 0, NOW + timedelta(seconds=30))] * 4
    assert (cool[0].error or "").startswith("rate limited")
    sender.clock = FakeClock(NOW + timedelta(seconds=30))
    later = await sender.drain_once()
    assert later.sent == 5
    assert channel.texts_to("cool") == [f"c{j}" for j in range(5)]


async def test_each_chat_keeps_its_order_across_many_small_claims(db: Database) -> None:
    chats = [str(400 + i) for i in range(6)]
    pids = await _bulk_people(db, chats)
    # Interleaved, uneven queues: 4 to 9 messages per chat.
    rows = [
        (pid, f"{chat}:{j}")
        for j in range(9)
        for pid, chat in zip(pids, chats, strict=True)
        if j <= chats.index(chat) + 3
    ]
    await _bulk_queue(db, rows)
    sender, channel, _ = _timed_sender(db, batch_size=5, per_chat=2)
    stats = await sender.drain_once(NOW)
    assert stats.sent == len(rows)
    for chat in chats:
        expected = [text for _, text in rows if text.startswith(f"{chat}:")]
        assert channel.texts_to(chat) == expected
        times = channel.times_to(chat)
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
    # The longest queue (9 messages) sets the pace: ~8 s, not one chat after the other.
    assert max(t for _, t in channel.times) <= 8.5
