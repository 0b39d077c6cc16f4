"""The outbox `Channel` over the Bot API: sends, and errors mapped to RetryAfter / Unreachable /
TransientError."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.telegram.channel import TelegramChannel
from scheduler.channels import Channel, RetryAfter, TransientError, Unreachable
from storage.messages import OutgoingMessage
from tests.telegram_harness import TOKEN, RecordingRequest


@pytest.fixture
async def request_() -> AsyncIterator[RecordingRequest]:
    yield RecordingRequest()


@pytest.fixture
async def channel(request_: RecordingRequest) -> AsyncIterator[TelegramChannel]:
    bot = Bot(TOKEN, request=request_)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def test_is_a_channel_and_sends_escaped_text_with_buttons(
    channel: TelegramChannel, request_: RecordingRequest
) -> None:
    assert isinstance(channel, Channel) and channel.name == "telegram"
    result = await channel.send(
        "42", OutgoingMessage("Hạn <30/9> & nay", choices=[("Báo cáo", "c:1")])
    )
    [call] = [c for c in request_.calls if c.method == "sendMessage"]
    assert call.params["text"] == "Hạn &lt;30/9&gt; &amp; nay"
    assert call.params["parse_mode"] == "HTML"
    assert result.message_id.isdigit()
    assert "c:1" in str(call.params["reply_markup"])


async def test_long_text_is_split_and_a_photo_carries_a_short_caption(
    channel: TelegramChannel, request_: RecordingRequest
) -> None:
    await channel.send("42", OutgoingMessage("\n".join(["x" * 100] * 60)))
    assert [len(c.params["text"]) <= 4096 for c in request_.calls if c.method == "sendMessage"] == [
        True,
        True,
    ]
    await channel.send("42", OutgoingMessage("Biểu đồ", photo=b"\x89PNG fake"))
    photo = [c for c in request_.calls if c.method == "sendPhoto"]
    assert len(photo) == 1 and photo[0].params["caption"] == "Biểu đồ"


@pytest.mark.parametrize(
    ("status", "description", "params", "expected"),
    [
        (429, "Too Many Requests: retry after 7", {"retry_after": 7}, RetryAfter),
        (403, "Forbidden: bot was blocked by the user", {}, Unreachable),
        (400, "Bad Request: chat not found", {}, Unreachable),
        (502, "Bad Gateway", {}, TransientError),
        (500, "Internal Server Error", {}, TransientError),
        (400, "Bad Request: can't parse entities", {}, TransientError),
    ],
)
async def test_errors_are_mapped(
    channel: TelegramChannel,
    request_: RecordingRequest,
    status: int,
    description: str,
    params: dict[str, int],
    expected: type[Exception],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The adapter reads RetryAfter's wait either way; opt in to the future type (no warning).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    request_.fail_chat(13, status, description, **params)
    with pytest.raises(expected) as caught:
        await channel.send("13", OutgoingMessage("Nhắc"))
    if expected is RetryAfter:
        assert caught.value.seconds == 7  # type: ignore[attr-defined]
    # Other chats are not affected.
    assert (await channel.send("14", OutgoingMessage("Nhắc"))).message_id
