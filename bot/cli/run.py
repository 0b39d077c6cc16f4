"""`cadrebot run [--webhook]`: the whole bot (see `bot.runtime`: answering users on every channel
that has a token — Telegram, Zalo or both —, the outbox sender, and, in the elected leader, the
catch-up and the scheduled jobs) until SIGINT/SIGTERM. Telegram uses long polling by default;
with --webhook, our webhook server (bot/telegram/webhook.py: it answers 200 only after the
update is processed, so Telegram retries what a crash interrupted) on CADREBOT_WEBHOOK_LISTEN:
CADREBOT_WEBHOOK_PORT at CADREBOT_WEBHOOK_PATH (CADREBOT_WEBHOOK_SECRET is mandatory: without it
the command refuses to start with one line; the secret-token header is checked), with
`GET /healthz` on the same port. Zalo uses its webhook when CADREBOT_ZALO_WEBHOOK_URL is set
(with CADREBOT_ZALO_WEBHOOK_SECRET, mandatory too), long polling otherwise.

The tokens and webhook secrets are never logged nor printed: httpx's request log (which prints
URLs containing the token) is silenced, every log record (and its traceback) is scrubbed of them,
the libraries that log request parameters (what people typed) stay at INFO or above whatever
CADREBOT_LOG_LEVEL says, and a start-up error that carries a secret (a rejected token) ends the
command with one Vietnamese line instead of a traceback."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from contextlib import suppress

import typer

from bot.cli import common
from storage.i18n import t
from storage.settings import Settings

log = logging.getLogger(__name__)

# Library loggers that print request parameters at DEBUG (aiosqlite / sqlalchemy / asyncpg the
# SQL parameters, python-telegram-bot / httpx / httpcore the Bot API parameters): their floor.
# sqlalchemy logs every statement at INFO, httpx every URL (with the token) at INFO.
LIBRARY_FLOORS = {
    "aiosqlite": logging.INFO,
    "telegram": logging.INFO,
    "httpcore": logging.INFO,
    "asyncpg": logging.INFO,
    "httpx": logging.WARNING,
    "sqlalchemy": logging.WARNING,
}

TOKEN_REJECTED = (
    "Telegram từ chối mã bot (CADREBOT_TELEGRAM_TOKEN sai hoặc đã bị thu hồi): "
    "lấy lại mã ở @BotFather rồi chạy lại."
)
SECRET_IN_ERROR = (
    "Không khởi động được bot ({kind}); chi tiết không được in ra vì có chứa mã bí mật: "
    "kiểm tra CADREBOT_TELEGRAM_TOKEN, CADREBOT_ZALO_TOKEN và các địa chỉ API."
)


def secrets_of(config: Settings) -> list[str]:
    """Every secret setting's value (the tokens and the webhook secrets)."""
    return [
        s.get_secret_value()
        for s in (
            config.telegram_token,
            config.webhook_secret,
            config.zalo_token,
            config.zalo_webhook_secret,
        )
        if s is not None and s.get_secret_value()
    ]


class RedactSecrets(logging.Filter):
    """Replace each secret by *** in a log record's final message and its traceback text, in any
    letter case (an API error may echo the token lower-cased)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]
        self._pattern = (
            re.compile(
                "|".join(re.escape(s) for s in sorted(self.secrets, key=len, reverse=True)),
                re.IGNORECASE,
            )
            if self.secrets
            else None
        )

    def _redact(self, text: str) -> str:
        return self._pattern.sub("***", text) if self._pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._pattern is not None and self._pattern.search(message):
            record.msg, record.args = self._redact(message), None
        if record.exc_info and record.exc_text is None:
            # Formatted here so the handler's formatter reuses the redacted text.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def configure_logging(config: Settings) -> None:
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    level = logging.getLevelName(config.log_level)
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, level))
    redact = RedactSecrets(secrets_of(config))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def carries_secret(exc: BaseException, secrets: list[str]) -> bool:
    """Whether the text of `exc` or of an exception chained to it contains a secret."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{current!s} {current!r}".casefold()
        if any(secret.casefold() in text for secret in secrets):
            return True
        current = current.__cause__ or current.__context__
    return False


async def serve(config: Settings, *, webhook: bool, stop: asyncio.Event | None = None) -> None:
    """Run the whole bot (`bot.runtime.run_service`) until SIGINT/SIGTERM (or until `stop`)."""
    # RetryAfter.retry_after as a timedelta (the adapter reads both; no deprecation warnings).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    from bot.runtime import run_service

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await run_service(config, webhook=webhook, stop=stop)
    finally:
        for sig in signals:
            with suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        webhook: bool = typer.Option(
            False,
            "--webhook",
            help="Telegram nhận tin qua webhook (mặc định: long polling); Zalo dùng webhook "
            "khi có CADREBOT_ZALO_WEBHOOK_URL / Telegram via webhook (default: long polling).",
        ),
    ) -> None:
        """Chạy bot Telegram và/hoặc Zalo (kênh nào có mã bot) / run the bot on every channel
        that has a token."""
        # The bot's libraries (python-telegram-bot, the scheduler, the channels) load only here.
        from telegram.error import InvalidToken

        from bot.runtime import telegram_enabled
        from bot.zalo.run import zalo_enabled

        config = common.settings()
        telegram, zalo = telegram_enabled(config), zalo_enabled(config)
        if not telegram and not zalo:
            raise common.fail(t("cli.run.no_token"))
        if webhook and telegram and not config.webhook_url:
            raise common.fail(t("cli.run.webhook_url_missing"))
        if webhook and not telegram and not config.zalo_webhook_url:
            raise common.fail(t("cli.run.zalo_webhook_url_missing"))
        if webhook and telegram and not config.webhook_secret:
            raise common.fail(t("cli.run.webhook_secret_missing"))
        if zalo and config.zalo_webhook_url and not config.zalo_webhook_secret:
            raise common.fail(t("cli.run.zalo_webhook_secret_missing"))
        configure_logging(config)
        secrets = secrets_of(config)
        try:
            common.run(serve(config, webhook=webhook))
        except InvalidToken:
            raise common.fail(TOKEN_REJECTED) from None
        except Exception as exc:
            # Not handled here: re-raised as is, unless printing it would print a secret.
            if not carries_secret(exc, secrets):
                raise
            raise common.fail(SECRET_IN_ERROR.format(kind=type(exc).__name__)) from None
