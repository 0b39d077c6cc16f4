"""Processed updates and their stored replies: a replayed update never runs its handler again,
and says again what its first turn said (a kill between the commit and the send left the person
without an answer); rows from before migration 0002 stay silent; old rows are pruned."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlmodel import col

from storage.db import Database, create_engine
from storage.migrate import alembic_config, head_revision, upgrade
from storage.models import CHANNEL_TELEGRAM, ProcessedUpdate
from storage.updates import claim_update, forget_old_updates, store_replies, stored_replies
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import Call, RecordingRequest, TelegramHarness, TgUser, bind
from tests.test_telegram_reporting import answer_session_questions, button, counts
from tests.test_zalo_adapter import report_session
from tests.zalo_fixtures import REPORTER as ZALO_REPORTER
from tests.zalo_fixtures import bind_zalo, open_zalo

REPORTER = TgUser(8401, "A")
MESSAGE = {"chat_id": 8401, "text": "Đã ghi nhận", "reply_markup": {"inline_keyboard": []}}


# ------------------------------------------------------------------------------------ storage


async def test_stored_replies_come_back_for_a_replay_only_if_stored(db: Database) -> None:
    async with db.write() as session:
        assert await claim_update(session=session, channel="t", update_id=1, now=NOW)
        await store_replies(session=session, channel="t", update_id=1, replies=[MESSAGE])
        assert await claim_update(session=session, channel="t", update_id=2, now=NOW)
        await store_replies(session=session, channel="t", update_id=2, replies=[])
    async with db.write() as session:
        assert not await claim_update(session=session, channel="t", update_id=1, now=NOW)
        assert await stored_replies(session=session, channel="t", update_id=1) == [MESSAGE]
        assert await stored_replies(session=session, channel="t", update_id=2) == []
        assert await stored_replies(session=session, channel="z", update_id=1) == []
        stored = (await session.execute(select(col(ProcessedUpdate.replies)))).scalars().all()
    assert sorted(stored, key=lambda r: r is None) == [[MESSAGE], None]  # nothing to say: NULL


async def test_old_rows_are_pruned_with_their_replies(db: Database) -> None:
    async with db.write() as session:
        await claim_update(session=session, channel="t", update_id=1, now=NOW - timedelta(days=8))
        await store_replies(session=session, channel="t", update_id=1, replies=[MESSAGE])
        await claim_update(session=session, channel="t", update_id=2, now=NOW - timedelta(days=6))
        await store_replies(session=session, channel="t", update_id=2, replies=[MESSAGE])
    async with db.write() as session:
        assert await forget_old_updates(session=session, now=NOW) == 1
    async with db.read() as session:
        assert await stored_replies(session=session, channel="t", update_id=1) == []
        assert await stored_replies(session=session, channel="t", update_id=2) == [MESSAGE]


async def test_upgrading_from_0001_keeps_processed_rows_without_replies(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        config = alembic_config()

        def to_0001(connection: Any) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")

        async with engine.connect() as connection:
            await connection.run_sync(to_0001)
            await connection.execute(
                text(
                    "INSERT INTO processed_update (channel, update_id, processed_at) "
                    "VALUES ('telegram', '77', :at)"
                ),
                {"at": NOW},
            )
            await connection.commit()
        assert await upgrade(engine) == ("0001", head_revision())
        db = Database(engine)
        async with db.write() as session:
            assert not await claim_update(
                session=session, channel=CHANNEL_TELEGRAM, update_id=77, now=NOW
            )
            assert (
                await stored_replies(session=session, channel=CHANNEL_TELEGRAM, update_id=77) == []
            )
    finally:
        await engine.dispose()


# ----------------------------------------------------------------------------------- telegram


@pytest.fixture
async def telegram(db: Database) -> AsyncIterator[tuple[World, TelegramHarness]]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    yield world, harness
    await harness.stop()


async def test_a_replayed_confirm_sends_the_same_receipt_and_changes_nothing(
    telegram: tuple[World, TelegramHarness], db: Database
) -> None:
    _world, h = telegram
    summary = await answer_session_questions(h, user=REPORTER)
    press = h.updates.callback(button(summary, "Xác nhận"), REPORTER)
    first = await h.process(press)
    [receipt] = first.texts()
    assert "Đã ghi nhận" in receipt
    assert await counts(db) == (1, 1)

    # A kill between the send and the confirmation: Telegram delivers it again.
    again = await h.process(press)

    assert again.texts() == []  # the receipt went out and is marked delivered: not twice
    assert len(again.of("answerCallbackQuery")) == 1  # the spinner stops
    assert await counts(db) == (1, 1)  # one report, no new version


async def test_a_press_whose_query_cannot_be_answered_still_gets_its_one_receipt(
    telegram: tuple[World, TelegramHarness], db: Database
) -> None:
    _world, h = telegram
    summary = await answer_session_questions(h, user=REPORTER)
    press = h.updates.callback(button(summary, "Xác nhận"), REPORTER)
    # Pressed while the bot was restarting: by the time it is handled the query is too old.
    h.request.fail_next("answerCallbackQuery", 400, "Bad Request: query is too old", times=2)

    first = await h.process(press)
    [receipt] = first.texts()
    assert "Đã ghi nhận" in receipt and "lỗi" not in receipt.lower()
    assert await counts(db) == (1, 1)
    assert (await h.process(press)).texts() == []  # and a replay does not repeat it


class DropFirstSend(RecordingRequest):
    """The Bot API refuses the next sendMessage (as if the process died before it went out)."""

    drop_next = False

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        if self.drop_next and url.endswith("/sendMessage"):
            self.drop_next = False
            self.calls.append(Call("sendMessage (dropped)", {}))
            return 502, json.dumps(
                {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            ).encode()
        return await super().do_request(url, method, *args, **kwargs)


async def _drain_telegram(db: Database, h: TelegramHarness) -> None:
    from bot.telegram.channel import TelegramChannel
    from scheduler.ratelimit import RateLimiter
    from scheduler.sender import Sender

    sender = Sender(db, [TelegramChannel(h.app.bot)], RateLimiter(rate=1000), clock=lambda: NOW)
    await sender.drain_once()


async def _outbox(db: Database) -> list[Any]:
    from storage.models import Outbox

    async with db.read() as session:
        return list((await session.execute(select(Outbox))).scalars().all())


async def test_a_receipt_lost_after_the_commit_goes_out_once_through_the_outbox(
    db: Database,
) -> None:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    request = DropFirstSend(lambda: NOW)
    h = await TelegramHarness.start(db=db, clock=lambda: NOW, request=request)
    try:
        summary = await answer_session_questions(h, user=REPORTER)
        press = h.updates.callback(button(summary, "Xác nhận"), REPORTER)
        request.drop_next = True  # the send fails after the commit (as a kill would lose it)
        lost = await h.process(press)
        assert lost.of("sendMessage (dropped)")
        assert not lost.texts()  # no receipt yet, and no apology: the report is saved
        assert await counts(db) == (1, 1)
        [row] = await _outbox(db)
        assert (row.channel, row.chat_id, row.kind) == ("telegram", str(REPORTER.id), "reply")
        assert "Đã ghi nhận" in row.payload["text"]

        replay = await h.process(press)  # Telegram delivers it again (no 200 was given)
        assert replay.texts() == []  # handed to the outbox: not sent a second time
        mark = len(request.calls)
        await _drain_telegram(db, h)
        [receipt] = request.since(mark).texts()
        assert "Đã ghi nhận" in receipt
        assert (await h.process(press)).texts() == []  # exactly one receipt in the chat
        assert await counts(db) == (1, 1)
    finally:
        await h.stop()


async def test_choices_lost_after_the_commit_keep_their_buttons_in_the_outbox(
    db: Database,
) -> None:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    request = DropFirstSend(lambda: NOW)
    h = await TelegramHarness.start(db=db, clock=lambda: NOW, request=request)
    try:
        update = h.updates.text("/baocao", REPORTER)
        request.drop_next = True
        assert not (await h.process(update)).texts()
        mark = len(request.calls)
        await _drain_telegram(db, h)
        sent = request.since(mark)
        assert sent.buttons()  # the deliverable choices, pressable
        assert (await h.process(update)).texts() == []
    finally:
        await h.stop()


async def test_a_replay_of_a_row_without_replies_stays_silent(
    telegram: tuple[World, TelegramHarness], db: Database
) -> None:
    _world, h = telegram
    update = h.updates.text("/baocao", REPORTER)
    async with db.write() as session:  # processed before migration 0002: nothing stored
        await claim_update(
            session=session, channel=CHANNEL_TELEGRAM, update_id=update["update_id"], now=NOW
        )
    assert len(await h.process(update)) == 0
    assert await counts(db) == (0, 0)


# --------------------------------------------------------------------------------------- zalo


async def test_a_replayed_zalo_update_sends_the_same_receipt_and_changes_nothing(
    db: Database,
) -> None:
    async with open_zalo(db) as zalo:
        await bind_zalo(db, zalo.world.reporter_id, ZALO_REPORTER)
        await report_session(zalo, ZALO_REPORTER)
        confirm = zalo.updates.text(ZALO_REPORTER, "1")
        [receipt] = await zalo.process(ZALO_REPORTER, confirm)
        assert "Đã ghi nhận" in receipt

        assert await zalo.process(ZALO_REPORTER, confirm) == []  # one receipt in the chat
        assert await counts(db) == (1, 1)


async def test_a_zalo_receipt_failing_after_the_commit_goes_out_through_the_outbox(
    db: Database,
) -> None:
    from scheduler.ratelimit import RateLimiter
    from scheduler.sender import Sender
    from storage.models import Outbox

    async with open_zalo(db) as zalo:
        await bind_zalo(db, zalo.world.reporter_id, ZALO_REPORTER)
        await report_session(zalo, ZALO_REPORTER)
        confirm = zalo.updates.text(ZALO_REPORTER, "1")
        zalo.stub.fail_next("sendMessage", 502, "Bad Gateway")
        [failed] = await zalo.process(ZALO_REPORTER, confirm)  # the attempt Zalo refused
        assert "Đã ghi nhận" in failed
        assert await counts(db) == (1, 1)  # saved, though the send failed
        assert await zalo.process(ZALO_REPORTER, confirm) == []  # a replay: handed over
        async with db.read() as session:
            [row] = (await session.execute(select(Outbox))).scalars().all()
        assert (row.channel, row.chat_id, row.kind) == ("zalo", ZALO_REPORTER.id, "reply")

        sender = Sender(db, [zalo.adapter.sender], RateLimiter(rate=1000), clock=lambda: NOW)
        await sender.drain_once()
        attempts = [t for t in zalo.stub.texts(ZALO_REPORTER.id) if "Đã ghi nhận" in t]
        assert attempts == [failed, failed]  # the refused one, then the one delivered
        async with db.read() as session:
            [row] = (await session.execute(select(Outbox))).scalars().all()
        assert row.status == "sent"
