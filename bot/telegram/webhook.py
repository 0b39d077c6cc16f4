"""Webhook mode: python-telegram-bot's tornado server, with Telegram's secret-token header checked
(requests without the right `X-Telegram-Bot-Api-Secret-Token` get 403 and are not processed),
plus `GET /healthz` on the same port for the load balancer."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from telegram import Update
from telegram.ext import Application

from bot.settings import Settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


class HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("ok")


def public_url(settings: Settings) -> str:
    """CADREBOT_WEBHOOK_URL as given when it has a path; a bare origin gets the webhook path."""
    assert settings.webhook_url is not None
    url = settings.webhook_url.rstrip("/")
    if urlsplit(url).path in {"", "/"}:
        return url + "/" + settings.webhook_path.strip("/")
    return url


def add_health_route(application: Application) -> bool:
    """Add /healthz to the running webhook server (python-telegram-bot 22.x keeps its tornado
    Application at updater._httpd._http_server.request_callback). False if it is not there."""
    server: Any = getattr(application.updater, "_httpd", None)
    web_app = getattr(getattr(server, "_http_server", None), "request_callback", None)
    if not isinstance(web_app, tornado.web.Application):
        log.warning("health endpoint not available: unexpected webhook server layout")
        return False
    web_app.add_handlers(r".*", [(HEALTH_PATH, HealthHandler)])
    return True


async def start_webhook(application: Application, settings: Settings) -> None:
    """Start the webhook server (and call setWebhook) for an initialised application."""
    if settings.webhook_url is None:
        raise ValueError("CADREBOT_WEBHOOK_URL is not set")
    assert application.updater is not None
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    await application.updater.start_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=settings.webhook_path.strip("/"),
        webhook_url=public_url(settings),
        secret_token=secret,
        allowed_updates=Update.ALL_TYPES,
    )
    add_health_route(application)
