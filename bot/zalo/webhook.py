"""The Zalo server (tornado, on the running asyncio loop): the webhook, the media route and a
health check, on CADREBOT_ZALO_LISTEN:CADREBOT_ZALO_PORT.

- `POST <path>`: one update. Zalo sends the secret given to setWebhook in the
  `X-Bot-Api-Secret-Token` header; a request without it, or with another value, gets 403 and is
  not processed. The update is handled before the answer (a retry after a timeout is a replay,
  recognised by the adapter).
- `GET <path>/media/<id>?token=...`: a photo published in the `MediaStore` (Zalo fetches the
  digest chart from here).
- `GET /healthz`: "ok", for the load balancer."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.settings import Settings
from bot.zalo.media import MEDIA_SEGMENT, MediaStore

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
MAX_BODY = 1024 * 1024


class Processor(Protocol):
    async def process(self, data: object) -> None: ...


def local_path(settings: Settings) -> str:
    return "/" + settings.zalo_webhook_path.strip("/")


def public_url(settings: Settings) -> str:
    """CADREBOT_ZALO_WEBHOOK_URL as given when it has a path; a bare origin gets the path."""
    assert settings.zalo_webhook_url is not None
    url = settings.zalo_webhook_url.rstrip("/")
    if urlsplit(url).path in {"", "/"}:
        return url + local_path(settings)
    return url


def media_base(settings: Settings) -> str | None:
    """The public prefix of the media route: CADREBOT_ZALO_MEDIA_URL (an origin), else the
    webhook URL's origin, followed by the local path; None when neither is set."""
    origin = settings.zalo_media_url or settings.zalo_webhook_url
    if not origin:
        return None
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}{local_path(settings)}"


class _Webhook(tornado.web.RequestHandler):
    def initialize(self, processor: Processor | None, secret: str | None) -> None:
        self.processor = processor
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if (
            self.processor is None
            or not self.secret
            or not hmac.compare_digest(given.encode(), self.secret.encode())
        ):
            log.warning("zalo webhook request refused: wrong or missing secret")
            raise tornado.web.HTTPError(403)
        if len(self.request.body) > MAX_BODY:
            raise tornado.web.HTTPError(413)
        try:
            data: Any = json.loads(self.request.body or b"null")
        except ValueError as exc:
            raise tornado.web.HTTPError(400) from exc
        await self.processor.process(data)
        self.set_header("Content-Type", "application/json")
        self.write({"message": "Success"})


class _Media(tornado.web.RequestHandler):
    def initialize(self, media: MediaStore) -> None:
        self.media = media

    def get(self, ident: str) -> None:
        found = self.media.get(ident, self.get_query_argument("token", ""))
        if found is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", found.content_type)
        self.set_header("Cache-Control", "no-store")
        self.write(found.data)


class _Health(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("ok")


class ZaloServer:
    """The HTTP server; `processor` None serves media and health only (polling mode)."""

    def __init__(
        self,
        *,
        path: str,
        media: MediaStore,
        processor: Processor | None = None,
        secret: str | None = None,
    ) -> None:
        path = "/" + path.strip("/")
        self.app = tornado.web.Application(
            [
                (path, _Webhook, {"processor": processor, "secret": secret}),
                (rf"{path}/{MEDIA_SEGMENT}/([0-9a-f]{{24}})", _Media, {"media": media}),
                (HEALTH_PATH, _Health),
            ]
        )
        self.server: HTTPServer | None = None
        self.port = 0

    def start(self, listen: str, port: int) -> int:
        """Listen (port 0: any free port); returns the port."""
        sockets = bind_sockets(port, listen)
        self.server = HTTPServer(self.app, max_body_size=MAX_BODY)
        self.server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            await self.server.close_all_connections()
            self.server = None
