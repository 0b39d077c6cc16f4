"""The sender: one send per key, retries after 429 and network errors, unreachable people."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.channels.base import OutgoingMessage, RetryAfter, TransientError, Unreachable
from scheduler.ratelimit import RateLimiter
from scheduler.sender import NO_IDENTITY, Sender
from storage import outbox
from storage.db import Database
from storage.models import ChatIdentity, Outbox, Person
from tests.sched_fixtures import FakeChannel, FakeClock, JumpTime, local, make_person

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
