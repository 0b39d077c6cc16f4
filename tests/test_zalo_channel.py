"""Proactive messages to Zalo through the outbox sender and `ZaloChannel`: a reminder, the weekly
digest with its chart as a photo (fetched by the stub from the media route), long texts split
under the limit, /kenh choosing the channel, and the client's error mapping."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.telegram.channel import TelegramChannel
from bot.zalo.channel import ZaloChannel
from bot.zalo.media import MediaStore
from bot.zalo.webhook import ZaloServer
from scheduler.channels import Channel, RetryAfter, TransientError, Unreachable
from scheduler.digest import compose_digest
from scheduler.jobs import digest_pass, reminder_pass
from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import Outbox
from tests.report_fixtures import NOW
from tests.sched_fixtures import FakeClock, JumpTime
from tests.telegram_harness import TelegramHarness, TgUser, bind
from tests.zalo_fixtures import REPORTER, Zalo, bind_zalo, kept, open_zalo
from tests.zalo_stub import ZaloUser

SUPERVISOR = ZaloUser("zu-8102", "Phạm Văn E")
MONDAY = datetime(2016, 10, 3, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội


@pytest.fixture
async def zalo(db: Database) -> AsyncIterator[Zalo]:
    async with open_zalo(db) as opened:
        yield opened


def sender(db: Database, *channels: Channel, now: datetime = NOW) -> Sender:
    jump = JumpTime()
    limiter = RateLimiter(rate=25, clock=jump, sleep=jump.sleep)
    return Sender(
        db,
        list(channels),
        limiter,
        clock=FakeClock(now),
        rng=random.Random(1),
    )


def zalo_channel(z: Zalo, media: MediaStore | None = None, limit: int = 2000) -> ZaloChannel:
    jump = JumpTime()
    return ZaloChannel(
        z.client, media=media, max_message=limit, rate=5, monotonic=jump, sleep=jump.sleep
    )


async def statuses(db: Database) -> dict[str, str]:
    async with db.read() as session:
        rows = await session.execute(select(col(Outbox.key), col(Outbox.status)))
        return {str(k): str(s) for k, s in rows.all()}


async def test_a_reminder_reaches_the_reporter_on_zalo(zalo: Zalo) -> None:
    db = zalo.world.db
    await bind_zalo(db, zalo.world.reporter_id, REPORTER)
    assert await reminder_pass(db, NOW) > 0
    await sender(db, zalo_channel(zalo)).drain_once(NOW)
    [reminder] = zalo.stub.texts(REPORTER.id)
    assert "Chương trình hành động" in reminder and "30/9/2016" in reminder
    assert "sent" in (await statuses(db)).values()


async def test_the_digest_goes_with_its_chart_as_a_photo(zalo: Zalo) -> None:
    db = zalo.world.db
    await bind_zalo(db, zalo.world.supervisor_id, SUPERVISOR)
    media = MediaStore(None, kept(db, lambda: MONDAY))
    server = ZaloServer(path="/zalo", media=media)
    port = server.start("127.0.0.1", 0)
    media.public_base = f"http://127.0.0.1:{port}/zalo"
    try:
        assert await digest_pass(db, MONDAY, compose_digest) >= 1
        await sender(db, zalo_channel(zalo, media), now=MONDAY).drain_once(MONDAY)
    finally:
        await server.stop()
    [photo] = zalo.stub.of("sendPhoto")
    assert photo.chat_id == SUPERVISOR.id
    assert photo.params["photo"].startswith(f"http://127.0.0.1:{port}/zalo/media/")
    assert zalo.stub.photos[0].startswith(b"\x89PNG")  # Zalo fetched the chart from us
    text = "\n".join(zalo.stub.texts(SUPERVISOR.id))
    assert "Bản tổng hợp tuần 40/2016" in text and "Đảng bộ xã Đông (CS1)" in text
    assert all(len(t) <= 2000 for t in zalo.stub.texts(SUPERVISOR.id))


async def test_a_digest_whose_text_fails_after_its_chart_does_not_send_the_chart_again(
    zalo: Zalo,
) -> None:
    db = zalo.world.db
    await bind_zalo(db, zalo.world.supervisor_id, SUPERVISOR)
    media = MediaStore(None, kept(db, lambda: MONDAY))
    server = ZaloServer(path="/zalo", media=media)
    port = server.start("127.0.0.1", 0)
    media.public_base = f"http://127.0.0.1:{port}/zalo"
    channel = zalo_channel(zalo, media, limit=300)  # several text parts: no caption
    try:
        assert await digest_pass(db, MONDAY, compose_digest) >= 1
        zalo.stub.fail_next("sendMessage", 502, "Bad Gateway")  # the text, after the chart
        await sender(db, channel, now=MONDAY).drain_once(MONDAY)
        assert len(zalo.stub.of("sendPhoto")) == 1
        assert "pending" in (await statuses(db)).values()  # the text part is retried
        later = MONDAY + timedelta(hours=1)
        await sender(db, channel, now=later).drain_once(later)
    finally:
        await server.stop()
    assert "pending" not in (await statuses(db)).values()
    assert len(zalo.stub.of("sendPhoto")) == 1  # the chart once, not with every retry
    text = "\n".join(zalo.stub.texts(SUPERVISOR.id))
    assert text.count("Bản tổng hợp tuần 40/2016") == 2  # refused once, then delivered


async def test_long_messages_are_split_on_lines_under_the_limit(zalo: Zalo) -> None:
    lines = [f"{n}. Đảng bộ xã số {n}: đã báo cáo, tỷ lệ 94,8%" for n in range(300)]
    message = OutgoingMessage(text="\n".join(lines))
    await zalo_channel(zalo).send(REPORTER.id, message)
    parts = zalo.stub.texts(REPORTER.id)
    assert len(parts) > 1 and all(len(p) <= 2000 for p in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, no line cut


async def test_a_photo_without_a_public_url_still_sends_the_text(zalo: Zalo) -> None:
    await zalo_channel(zalo, MediaStore(None, kept(zalo.world.db))).send(
        REPORTER.id, OutgoingMessage(text="Tổng hợp tuần", photo=b"\x89PNG...")
    )
    assert zalo.stub.texts(REPORTER.id) == ["Tổng hợp tuần"] and not zalo.stub.of("sendPhoto")


async def test_kenh_zalo_sends_proactive_messages_to_zalo(zalo: Zalo, db: Database) -> None:
    world = zalo.world
    telegram_user = TgUser(8101, "A")
    await bind_zalo(db, world.reporter_id, REPORTER, now=NOW - timedelta(days=1))
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    try:
        # Telegram is bound later, so it is the channel used last.
        await bind(db, world.reporter_id, telegram_user, now=NOW)
        answer = (await harness.send("/kenh", telegram_user)).text()
        assert "kênh đồng chí dùng gần nhất" in answer
        answer = (await harness.send("/kenh zalo", telegram_user)).text()
        assert answer == "Từ nay tin nhắn nhắc nhở, tổng hợp sẽ được gửi qua Zalo."
        await reminder_pass(db, NOW)
        channels: list[Channel] = [TelegramChannel(harness.app.bot), zalo_channel(zalo)]
        mark = len(harness.request.calls)
        await sender(db, *channels).drain_once(NOW)
        assert zalo.stub.texts(REPORTER.id)
        assert str(telegram_user.id) not in {c.chat_id for c in harness.request.since(mark)}
        # Back to "the channel used last" from Zalo itself.
        assert "gần nhất" in (await zalo.send(REPORTER, "/kenh tudong"))[0]
        assert "chưa kết nối Telegram" not in (await zalo.send(REPORTER, "/kenh telegram"))[0]
    finally:
        await harness.stop()


async def test_kenh_refuses_a_channel_the_person_has_not_connected(zalo: Zalo) -> None:
    await bind_zalo(zalo.world.db, zalo.world.reporter_id, REPORTER)
    [answer] = await zalo.send(REPORTER, "/kenh telegram")
    assert answer.startswith("Đồng chí chưa kết nối Telegram")


@pytest.mark.parametrize(
    ("status", "description", "expected"),
    [
        (429, "Too many requests", RetryAfter),
        (403, "Forbidden: user blocked the bot", Unreachable),
        (400, "User not found", Unreachable),
        (400, "text is too long", TransientError),
        (500, "Internal error", TransientError),
    ],
)
async def test_errors_are_mapped_for_the_sender(
    zalo: Zalo, status: int, description: str, expected: type[Exception]
) -> None:
    zalo.stub.fail_chat(REPORTER.id, status, description, retry_after=7)
    with pytest.raises(expected) as info:
        await zalo_channel(zalo).send(REPORTER.id, OutgoingMessage(text="Nhắc"))
    if isinstance(info.value, RetryAfter):
        assert info.value.seconds == 7
    assert "zalo-test-token" not in str(info.value)


async def test_unreachable_network_is_transient(zalo: Zalo) -> None:
    await zalo.stub.stop()
    with pytest.raises(TransientError) as info:
        await zalo.client.send_message(REPORTER.id, "x")
    assert "zalo-test-token" not in str(info.value)
