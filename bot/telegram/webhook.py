"""Webhook mode: our own tornado server that answers Telegram only after the update is processed.

python-telegram-bot's webhook server answers 200 as soon as the update is queued, so Telegram
never retries it, and a kill before the handler commits lost it (the person got silence). Here a
POST to the webhook path:

- without the right `X-Telegram-Bot-Api-Secret-Token`: 403, nothing processed. The secret is
  mandatory (`start_webhook` refuses to start without CADREBOT_WEBHOOK_SECRET) and is checked
  from the headers alone, before any byte of the body is read (`stream_request_body`);
- a body over `MAX_BODY` (1 MB; a real update is a few KB): 413, from its Content-Length before
  reading it, or as soon as a streamed body passes the cap;
- with a body that is not a JSON update: 400;
- otherwise the update is processed through the application's update processor
  (`processing.process`: the concurrency limit, one person's updates in arrival order) and the
  answer is 200 once its transaction has committed and its replies were sent, or 500 if a
  handler raised (the transaction rolled back): Telegram then delivers it again. A kill before
  the answer: Telegram delivers it again too. A replay of a processed update is not processed
  again; its stored replies are re-sent (`storage.updates`), so each update is processed once.

Safeguard: an update still processing after `PROCESS_TIMEOUT` (50 s) is answered 200 and left to
finish. Telegram gives up on a webhook request after about a minute and then delivers the update
again (and counts the webhook as failing, slowing delivery of everyone's updates); answering first
keeps one slow handler (an export waiting on the rate limiter) from doing that. The cost: a kill
in those extra seconds can lose that update.

`GET /healthz` answers "ok" on the same port (for the load balancer).

Connections: one idle for `IDLE_TIMEOUT` (also the wait for a request's headers) or a body
taking longer than `BODY_TIMEOUT` is closed, so idle half-open connections cannot pile up; the
log records of the HTTP server and of the event loop are rate-limited (`bot.log_limit`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.web
from telegram import Update

from bot.log_limit import limit_server_logs
from bot.telegram.processing import TelegramApp, process, watch_failures
from bot.webhook_guard import BODY_TIMEOUT, IDLE_TIMEOUT, MAX_BODY, GuardedBody
from storage.settings import Settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PROCESS_TIMEOUT = 50.0  # seconds before an update still processing is answered 200 anyway
MAX_CONNECTIONS = 40  # Telegram's default: updates it may send at once
STOP_GRACE = 10.0  # seconds the updates in progress may take to finish on stop


class MissingWebhookSecret(ValueError):
    """Webhook mode without CADREBOT_WEBHOOK_SECRET: anyone reaching the port could post updates
    as any user."""


class HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("ok")


@dataclass
class _Receiver:
    """What the update handler needs, shared by its requests."""

    application: TelegramApp
    secret: str | None
    process_timeout: float
    running: set[asyncio.Task[bool]] = field(default_factory=set)


class UpdateHandler(GuardedBody):
    secret_header = SECRET_HEADER
    receiver: _Receiver

    def initialize(self, receiver: _Receiver) -> None:
        self.receiver = receiver

    def expected_secret(self) -> str | None:
        return self.receiver.secret

    def log_refusal(self) -> None:
        log.debug("request had a missing or wrong secret token: refused (403)")

    async def post(self) -> None:
        receiver = self.receiver
        try:
            data = json.loads(self.body())
            if not isinstance(data, dict):
                raise TypeError("not an object")
            update = Update.de_json(data, receiver.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("webhook request without a valid update: refused (400)")
            self.set_status(400)
            return
        task = asyncio.ensure_future(process(receiver.application, update))
        receiver.running.add(task)
        task.add_done_callback(receiver.running.discard)
        try:
            done = await asyncio.wait_for(asyncio.shield(task), receiver.process_timeout)
        except TimeoutError:
            log.warning(
                "update %s still processing after %.0f s; answered anyway",
                update.update_id,
                receiver.process_timeout,
            )
            task.add_done_callback(_log_late)
            self.set_status(200)
            return
        self.set_status(200 if done else 500)


def _log_late(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a late update failed", exc_info=task.exception())


@dataclass
class WebhookServer:
    """The running server: `stop()` closes it after the updates in progress finished."""

    server: tornado.httpserver.HTTPServer
    receiver: _Receiver

    async def stop(self, grace: float = STOP_GRACE) -> None:
        self.server.stop()
        running = list(self.receiver.running)
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.server.close_all_connections()


def public_url(settings: Settings) -> str:
    """CADREBOT_WEBHOOK_URL as given when it has a path; a bare origin gets the webhook path."""
    assert settings.webhook_url is not None
    url = settings.webhook_url.rstrip("/")
    if urlsplit(url).path in {"", "/"}:
        return url + "/" + settings.webhook_path.strip("/")
    return url


def web_app(
    application: TelegramApp, settings: Settings, process_timeout: float = PROCESS_TIMEOUT
) -> tuple[tornado.web.Application, _Receiver]:
    """The tornado application: POST /<webhook path> and GET /healthz."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if not secret:
        raise MissingWebhookSecret("CADREBOT_WEBHOOK_SECRET is required in webhook mode")
    receiver = _Receiver(application, secret, process_timeout)
    path = "/" + settings.webhook_path.strip("/")
    routes: list[Any] = [
        (path, UpdateHandler, {"receiver": receiver}),
        (HEALTH_PATH, HealthHandler),
    ]
    return tornado.web.Application(routes), receiver


async def start_webhook(
    application: TelegramApp, settings: Settings, *, process_timeout: float = PROCESS_TIMEOUT
) -> WebhookServer:
    """Listen on CADREBOT_WEBHOOK_LISTEN:PORT, then setWebhook (with the secret token), for an
    initialised application. Raises MissingWebhookSecret without CADREBOT_WEBHOOK_SECRET."""
    if settings.webhook_url is None:
        raise ValueError("CADREBOT_WEBHOOK_URL is not set")
    app, receiver = web_app(application, settings, process_timeout)
    watch_failures(application)
    limit_server_logs()
    server = tornado.httpserver.HTTPServer(
        app,
        xheaders=True,
        max_body_size=MAX_BODY,
        idle_connection_timeout=IDLE_TIMEOUT,
        body_timeout=BODY_TIMEOUT,
    )
    server.listen(settings.webhook_port, address=settings.webhook_listen)
    running = WebhookServer(server, receiver)
    try:
        await application.bot.set_webhook(
            url=public_url(settings),
            allowed_updates=Update.ALL_TYPES,
            max_connections=MAX_CONNECTIONS,
            secret_token=receiver.secret,
        )
    except BaseException:
        await running.stop()
        raise
    return running
