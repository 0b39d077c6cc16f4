"""Stored replies never hold a secret (hardening finding 7): the replies of a turn are kept with
its processed_update row for days and go into every backup, so an invite code made by /moi is
masked in the stored copy. The person who asked still sees the code once; a replay re-sends the
text with the code hidden, and that text says to run /moi again."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.invites import MASK, find_code
from storage.models import ROLE_ADMIN, ProcessedUpdate
from storage.updates import store_replies
from tests.factories import make_person, pk
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TelegramHarness, TgUser, bind

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


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[TelegramHarness]:
    await build_world(db)
    async with db.write() as session:
        admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
    await bind(db, pk(admin), ADMIN)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    yield harness
    await harness.stop()


async def test_the_stored_replies_of_a_moi_turn_do_not_contain_the_code(
    db: Database, harness: TelegramHarness
) -> None:
    update = harness.updates.text("/moi bithu CS1 Nguyễn Văn Mới", ADMIN)
    first = await harness.process(update)
    [text] = first.texts()
    code = find_code(text.split("start=", 1)[1])
    assert code is not None and code in text  # the admin sees it, once

    stored = await stored_text(db)
    for form in (code, code.replace("-", ""), code.lower()):
        assert form not in stored
    assert MASK in stored

    replayed = await harness.process(update)  # Telegram delivers the update again
    [again] = replayed.texts()
    assert code not in again and MASK in again
    assert "gõ lại /moi để tạo mã mới" in again
    assert not re.search(r"start=[2-9A-Z]{5}-", again)

    # The code itself still works: it was masked in the copy, not changed.
    welcome = await harness.send(f"/start {code}", NEWCOMER)
    assert welcome.texts()[0].startswith("Chào đồng chí Nguyễn Văn Mới!")
