"""Test access to the local Bot API (bot/telegram/local.py) plus test-only helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.telegram.local import (
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    Call,
    Calls,
    Failure,
    RecordingRequest,
    TgUser,
    UpdateFactory,
)
from bot.telegram.local import LocalBot as TelegramHarness
from storage.db import Database

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "TOKEN",
    "Call",
    "Calls",
    "Failure",
    "RecordingRequest",
    "TelegramHarness",
    "TgUser",
    "UpdateFactory",
    "bind",
    "fixed_clock",
]


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


async def bind(db: Database, person_id: int, user: TgUser, now: datetime | None = None) -> None:
    """Give a test person this Telegram account (as a redeemed invite would)."""
    from storage.models import CHANNEL_TELEGRAM
    from storage.people import ChatAccount, bind_identity

    async with db.write() as session:
        await bind_identity(
            session=session,
            person_id=person_id,
            account=ChatAccount(CHANNEL_TELEGRAM, str(user.id), str(user.id), user.language_code),
            now=now or datetime(2016, 5, 1, tzinfo=UTC),
        )
