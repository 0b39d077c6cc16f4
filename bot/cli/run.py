"""`cadrebot run [--webhook]`: the whole bot (see `bot.runtime`: answering users, the outbox
sender, catch-up and the scheduled jobs) until SIGINT/SIGTERM. Long polling by default; with
--webhook, python-telegram-bot's webhook server on CADREBOT_WEBHOOK_LISTEN:CADREBOT_WEBHOOK_PORT at
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

from bot.cli import common
from bot.runtime import run_service
from bot.settings import Settings

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
    """Run the whole bot (`bot.runtime.run_service`) until SIGINT/SIGTERM (or until `stop`)."""
    # RetryAfter.retry_after as a timedelta (the adapter reads both; no deprecation warnings).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
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
