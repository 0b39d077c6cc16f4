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
from storage.models import ROLE_ADMIN, ProcessedUpdate
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


async def test_a_replayed_moi_whose_reply_was_lost_says_to_run_moi_again(
    db: Database, harness: tuple[TelegramHarness, DropSend]
) -> None:
    h, request = harness
    update = h.updates.text("/moi bithu CS1", ADMIN)
    request.drop_next = True
    lost = await h.process(update)  # committed, but the reply never went out
    assert lost.texts() == []

    assert (await h.process(update)).texts() == []  # a replay: handed to the outbox already
    from storage.models import Outbox

    async with db.read() as session:
        [row] = (await session.execute(select(Outbox))).scalars().all()
    assert find_code(json.dumps(row.payload, ensure_ascii=False)) is None  # no code on disk
    from bot.telegram.channel import TelegramChannel
    from scheduler.ratelimit import RateLimiter
    from scheduler.sender import Sender

    mark = len(request.calls)
    sender = Sender(db, [TelegramChannel(h.app.bot)], RateLimiter(rate=1000), clock=lambda: NOW)
    await sender.drain_once()
    [again] = request.since(mark).texts()  # the sender delivers it, masked
    assert again.startswith("Đã tạo mã mời người báo cáo")
    assert MASK in again and find_code(again) is None  # no code at all, masked everywhere
    assert again.endswith("đồng chí gõ lại /moi để tạo mã mới.")
    assert not re.search(r"start=[2-9A-Z]", again)
