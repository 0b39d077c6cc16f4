"""`cadrebot run [--webhook]`: the Telegram bot. Long polling by default; with --webhook,
python-telegram-bot's webhook server on CADREBOT_WEBHOOK_LISTEN:CADREBOT_WEBHOOK_PORT at
CADREBOT_WEBHOOK_PATH (the secret-token header checked when CADREBOT_WEBHOOK_SECRET is set), with
`GET /healthz` on the same port. The token is never logged: httpx's request log (which prints
URLs containing it) is silenced and every log record is scrubbed of it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import suppress

import typer
from telegram import Update

from bot.app import build_application
from bot.cli import common
from bot.settings import Settings
from bot.telegram.menus import set_default_menu
from bot.telegram.webhook import start_webhook
from storage.clock import system_clock

log = logging.getLogger(__name__)


class RedactSecrets(logging.Filter):
    """Replace each secret by *** in a log record's final message."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def configure_logging(config: Settings) -> None:
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    secrets = [
        s.get_secret_value()
        for s in (config.telegram_token, config.webhook_secret)
        if s is not None
    ]
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


async def serve(config: Settings, *, webhook: bool, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until `stop` is set)."""
    # RetryAfter.retry_after as a timedelta (the adapter reads both; no deprecation warnings).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with common.database(config) as db:
        application = build_application(config, db=db, clock=system_clock)
        async with application:
            assert application.updater is not None
            await set_default_menu(application.bot)
            if webhook:
                await start_webhook(application, config)
                log.info("webhook server on %s:%s", config.webhook_listen, config.webhook_port)
            else:
                await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
                log.info("long polling started")
            await application.start()
            await stop.wait()
            await application.updater.stop()
            await application.stop()


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        webhook: bool = typer.Option(
            False, "--webhook", help="Nhận tin qua webhook (mặc định: long polling)."
        ),
    ) -> None:
        """Chạy bot Telegram / run the Telegram bot."""
        config = common.settings()
        if config.telegram_token is None or not config.telegram_token.get_secret_value():
            raise common.fail(
                "Chưa cấu hình mã bot Telegram: đặt biến môi trường CADREBOT_TELEGRAM_TOKEN."
            )
        if webhook and not config.webhook_url:
            raise common.fail("Chế độ webhook cần địa chỉ công khai: đặt CADREBOT_WEBHOOK_URL.")
        configure_logging(config)
        common.run(serve(config, webhook=webhook))
