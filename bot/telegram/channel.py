"""The Telegram `Channel` for the outbox sender: one `OutgoingMessage` out through the Bot API,
and python-telegram-bot's errors mapped to the three outcomes the sender understands."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.channels.tables import as_html_pre
from bot.telegram.render import split_text
from scheduler.channels import RetryAfter, SendResult, TransientError, Unreachable
from storage.messages import OutgoingMessage
from storage.models import CHANNEL_TELEGRAM

MAX_CAPTION = 1024
# BadRequest descriptions that mean the chat cannot be reached (retrying will not help).
UNREACHABLE_HINTS = ("chat not found", "user not found", "peer_id_invalid", "bot was blocked")

T = TypeVar("T")


def retry_seconds(exc: TelegramRetryAfter) -> float:
    """The wait, whatever python-telegram-bot's time-period setting (int or timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


async def mapped(call: Callable[[], Awaitable[T]]) -> T:
    """Run one Bot API call, raising only RetryAfter / Unreachable / TransientError."""
    try:
        return await call()
    except TelegramRetryAfter as exc:
        raise RetryAfter(retry_seconds(exc)) from exc
    except Forbidden as exc:
        raise Unreachable(f"forbidden: {exc.message}") from exc
    except BadRequest as exc:
        lowered = exc.message.lower()
        if any(hint in lowered for hint in UNREACHABLE_HINTS):
            raise Unreachable(f"bad request: {exc.message}") from exc
        # Any other 400 is a message we built wrong; the sender retries a few times, then fails.
        raise TransientError(f"bad request: {exc.message}") from exc
    except NetworkError as exc:  # includes TimedOut and 5xx answers
        raise TransientError(f"network: {exc.message}") from exc
    except TelegramError as exc:  # InvalidToken, Conflict, an unreadable answer ...
        raise TransientError(f"telegram: {type(exc).__name__}") from exc


def _markup(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if not message.choices:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data)] for label, data in message.choices]
    )


class TelegramChannel:
    """`scheduler.channels.Channel` over a python-telegram-bot `Bot` (already initialised)."""

    name = CHANNEL_TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: str, message: OutgoingMessage) -> SendResult:
        text = message.text if message.html else as_html_pre(message.text)
        markup = _markup(message)
        photo: Any = message.photo
        if photo is None and message.photo_path is not None:
            try:
                with open(message.photo_path, "rb") as handle:  # noqa: ASYNC230 - small image
                    photo = handle.read()
            except OSError as exc:
                raise TransientError(f"photo unreadable: {exc.strerror}") from exc
        parts = split_text(text)
        sent: Message | None = None
        if photo is not None:
            caption = parts[0] if len(parts) == 1 and len(parts[0]) <= MAX_CAPTION else None
            sent = await mapped(
                lambda: self.bot.send_photo(
                    chat_id=chat_id,
                    photo=photo,
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if caption is not None else None,
                )
            )
            if caption is not None:
                return SendResult(str(sent.message_id))
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await mapped(
                lambda part=part, last=last: self.bot.send_message(  # type: ignore[misc]
                    chat_id=chat_id,
                    text=part,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if last else None,
                )
            )
        assert sent is not None
        return SendResult(str(sent.message_id))
