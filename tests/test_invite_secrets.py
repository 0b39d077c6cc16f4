"""Stored replies never hold a secret (hardening finding 7): the replies of a turn are kept with
its processed_update row for days and go into every backup, so an invite code made by /moi is
masked in the stored copy. The person who asked still sees the code once; a reply that could not
be sent goes to the outbox with the code hidden, and that text says to run /moi again."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.invites import MASK, find_code
from storage.models import ROLE_ADMIN, Outbox, ProcessedUpdate
from storage.updates import store_replies
from tests.factories import make_person, pk
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import Call, RecordingRequest, TelegramHarness, TgUser, bind

ADMIN = TgUser(8801, "Tỉnh")
NEWCOMER = TgUser(8802, "Mới")


async def stored_text(db: Database) -> str:
    """Everything every processed_update row holds, as text."""
    async with db.read() as session:
        rows = (await session.execute(select(ProcessedUpdate))).scalars().all()
    return "\n".join(json.dumps(row.replies, ensure_ascii=False) for row in rows)


async def test_store_replies_masks_codes_in_every_string(db: Database, now: datetime) -> None:
    code = "K7Q4M-2XP9T"
    reply = {
        "chat_id": 5,
        "text": f"Mã: {code}",
        "reply_markup": {"inline_keyboard": [[{"url": f"https://t.me/b?start={code}"}]]},
    }
    async with db.write() as session:
        session.add(ProcessedUpdate(channel="t", update_id="1", processed_at=now))
        await session.flush()
        await store_replies(session=session, channel="t", update_id=1, replies=[reply])
    text = await stored_text(db)
    assert code not in text and text.count(MASK) == 2


class DropSend(RecordingRequest):
    """The Bot API refuses the next sendMessage (as if the process died before it went out)."""

    drop_next = False

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        if self.drop_next and url.endswith("/sendMessage"):
            self.drop_next = False
            self.calls.append(Call("sendMessage (dropped)", {}))
            body = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            return 502, json.dumps(body).encode()
        return await super().do_request(url, method, *args, **kwargs)


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[tuple[TelegramHarness, DropSend]]:
    await build_world(db)
    async with db.write() as session:
        admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
    await bind(db, pk(admin), ADMIN)
    request = DropSend(lambda: NOW)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, request=request)
    yield harness, request
    await harness.stop()


async def test_the_stored_replies_of_a_moi_turn_do_not_contain_the_code(
    db: Database, harness: tuple[TelegramHarness, DropSend]
) -> None:
    h, _ = harness
    first = await h.send("/moi bithu CS1 Nguyễn Văn Mới", ADMIN)
    [text] = first.texts()
    code = find_code(text.split("start=", 1)[1])
    assert code is not None and code in text  # the admin sees it, once

    stored = await stored_text(db)
    for form in (code, code.replace("-", ""), code.lower()):
        assert form not in stored
    assert MASK in stored

    # The code itself still works: it was masked in the copy, not changed.
    welcome = await h.send(f"/start {code}", NEWCOMER)
    assert welcome.texts()[0].startswith("Chào đồng chí Nguyễn Văn Mới!")


async def test_a_reply_that_failed_goes_to_the_outbox_masked(
    db: Database, harness: tuple[TelegramHarness, DropSend]
) -> None:
    """A send failing after the commit hands the reply to the outbox (rows kept, backed up):
    the code is masked there, a replay sends nothing twice, and the sender delivers the masked
    text, which says to run /moi again."""
    from bot.telegram.channel import TelegramChannel
    from scheduler.ratelimit import RateLimiter
    from scheduler.sender import Sender

    h, request = harness
    update = h.updates.text("/moi bithu CS1", ADMIN)
    request.drop_next = True
    assert (await h.process(update)).texts() == []  # committed, but the reply never went out
    assert (await h.process(update)).texts() == []  # a replay: handed to the outbox already
    async with db.read() as session:
        [row] = (await session.execute(select(Outbox))).scalars().all()
    assert find_code(json.dumps(row.payload, ensure_ascii=False)) is None  # no code on disk
    assert find_code(await stored_text(db)) is None

    mark = len(request.calls)
    sender = Sender(db, [TelegramChannel(h.app.bot)], RateLimiter(rate=1000), clock=lambda: NOW)
    await sender.drain_once()
    [again] = request.since(mark).texts()  # the sender delivers it, masked
    assert again.startswith("Đã tạo mã mời người báo cáo")
    assert MASK in again and find_code(again) is None  # no code at all, masked everywhere
    assert again.endswith("đồng chí gõ lại /moi để tạo mã mới.")
    assert not re.search(r"start=[2-9A-Z]", again)


async def test_a_kill_between_commit_and_send_replays_the_masked_copy(
    db: Database, harness: tuple[TelegramHarness, DropSend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill between the commit and the send: nothing went out, nothing was handed over, no
    delivered mark; the replay re-sends the stored copy, masked."""
    import bot.core.turn

    h, request = harness

    async def killed(*args: Any, **kwargs: Any) -> None:
        return None

    update = h.updates.text("/moi bithu CS1", ADMIN)
    request.drop_next = True
    monkeypatch.setattr(bot.core.turn, "_hand_over", killed)
    monkeypatch.setattr(bot.core.turn, "mark_delivered", killed)
    assert (await h.process(update)).texts() == []
    monkeypatch.undo()

    [again] = (await h.process(update)).texts()  # Telegram delivers the update again
    assert again.startswith("Đã tạo mã mời người báo cáo")
    assert MASK in again and find_code(again) is None
    assert again.endswith("đồng chí gõ lại /moi để tạo mã mới.")


async def test_on_zalo_too_the_stored_replies_of_moi_hold_no_code(db: Database) -> None:
    from tests.zalo_fixtures import bind_zalo, open_zalo
    from tests.zalo_stub import ZaloUser

    admin_user = ZaloUser("zu-admin", "Tỉnh")
    async with open_zalo(db) as zalo:
        async with db.write() as session:
            admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
        await bind_zalo(db, pk(admin), admin_user)
        [text] = await zalo.send(admin_user, "/moi bithu CS1")
        code = find_code(text)
        assert code is not None  # the admin sees it, once
        stored = await stored_text(db)
        assert code not in stored and code.replace("-", "") not in stored and MASK in stored
