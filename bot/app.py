"""The composition root of the Telegram bot: `build_application` wires settings, the database,
the clock, the conversation engine and the handlers into a python-telegram-bot `Application`.
Nothing happens at import time; nothing touches the network until the application starts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot.core.turn import Runtime
from bot.telegram.files import TelegramFiles
from bot.telegram.handlers import register
from bot.telegram.processor import PerChatUpdateProcessor
from storage.clock import Clock
from storage.db import Database
from storage.settings import Settings


class MissingToken(Exception):
    """CADREBOT_TELEGRAM_TOKEN is not set."""


def build_application(
    settings: Settings,
    *,
    db: Database,
    clock: Clock,
    request: BaseRequest | None = None,
    engine: Any = None,
    telegram_limits: bool = True,
) -> Application:
    """The bot, ready to `initialize()`; `request` replaces the HTTP layer (tests), `engine`
    the conversation engine (default: a `ConversationEngine`). `telegram_limits=False` leaves out
    the AIORateLimiter (Telegram's 30 messages/s, 1/s per chat), for the in-process Bot API of
    the demo, tests and benchmarks, where no request reaches Telegram."""
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise MissingToken("CADREBOT_TELEGRAM_TOKEN")
    if engine is None:
        from bot.conversation.engine import ConversationEngine

        engine = ConversationEngine()
    builder: Any = (  # the builder's type changes with the rate limiter
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.timezone)))
        .concurrent_updates(PerChatUpdateProcessor(settings.concurrent_updates))
    )
    if telegram_limits:
        builder = builder.rate_limiter(AIORateLimiter())
    if settings.telegram_file_url:
        builder = builder.base_file_url(settings.telegram_file_url)
    if request is not None:
        builder = builder.request(request)
    application = builder.build()
    application.bot_data["runtime"] = Runtime(
        db=db, clock=clock, settings=settings, engine=engine, media=TelegramFiles(application.bot)
    )
    application.bot_data["db"] = db
    application.bot_data["clock"] = clock
    register(application)
    return application
