"""Acceptance (#17.2) on both channels: a review decision whose turn is killed between the commit
and the reply is replayed, and each notice it queued reaches the reporter's chat once, through
the outbox sender (a second drain, as after a restart, sends nothing more)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.telegram.channel import TelegramChannel
from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from tests.report_fixtures import NOW
from tests.review_fixtures import kill_the_next_reply, require_review, session_report
from tests.test_channel_scenarios import Setup, TelegramDriver, ZaloDriver, setup

__all__ = ["setup"]

REASON = "Thiếu biên bản hội nghị"


def _sender(s: Setup) -> Sender:
    driver = s.driver
    if isinstance(driver, TelegramDriver):
        channel: Any = TelegramChannel(driver.harness.app.bot)
    else:
        assert isinstance(driver, ZaloDriver)
        channel = driver.adapter.sender
    return Sender(s.db, [channel], RateLimiter(rate=1000), clock=lambda: NOW)


def _received(s: Setup, who: str) -> list[str]:
    """Every text the person's chat was sent, whoever sent it (the turn or the sender)."""
    driver = s.driver
    if isinstance(driver, TelegramDriver):
        chat = str(driver.users[who].id)
        return [c.text for c in driver.request.calls if c.chat_id == chat and c.text]
    assert isinstance(driver, ZaloDriver)
    return driver.stub.texts(driver.users[who].id)


async def _killed_then_replayed(s: Setup, text: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The decision's turn dies between its commit and its reply; the platform delivers the
    update again (the reply comes once), and once more (nothing)."""
    kill_the_next_reply(monkeypatch)
    update = s.driver.update("supervisor", text)
    with pytest.raises(asyncio.CancelledError):
        await s.driver.process("supervisor", update)
    replied = "\n".join(await s.driver.process("supervisor", update))
    assert await s.driver.process("supervisor", update) == []
    return replied


async def test_each_review_notice_reaches_the_reporter_once_across_a_kill(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = setup
    await require_review(s.db, s.world.campaign_id)
    number = await session_report(s.db, s.world)
    sender = _sender(s)

    returned = await _killed_then_replayed(s, f"/duyet trả lại {number} {REASON}", monkeypatch)
    assert returned.startswith(f"Đã trả lại báo cáo số {number}")
    before = len(_received(s, "reporter"))
    await sender.drain_once()
    await sender.drain_once()  # a restarted sender: nothing is sent twice
    told = _received(s, "reporter")[before:]
    assert len(told) == 1, told
    assert REASON in told[0] and "/capnhat" in told[0]

    # The reporter amends; the approval is killed the same way and told once too.
    await s.driver.say("reporter", "/capnhat")
    await s.driver.say("reporter", "so bai thu hoach da nop")
    await s.driver.say("reporter", "26")
    await s.driver.say("reporter", "Xác nhận")
    approved = await _killed_then_replayed(s, f"/duyet {number}", monkeypatch)
    assert approved.startswith(f"Đã duyệt báo cáo số {number}")
    before = len(_received(s, "reporter"))
    await sender.drain_once()
    await sender.drain_once()
    told = _received(s, "reporter")[before:]
    assert len(told) == 1, told
    assert str(number) in told[0] and REASON not in told[0], told
