"""The Zalo server (tornado, on the running asyncio loop): the webhook, the media route and a
health check, on CADREBOT_ZALO_LISTEN:CADREBOT_ZALO_PORT.

- `POST <path>`: one update. Zalo sends the secret given to setWebhook in the
  `X-Bot-Api-Secret-Token` header; a request without it, or with another value, gets 403 and is
  not processed. Both refusals come from the headers alone, before any byte of the body is read
  (`stream_request_body`); a body over `MAX_BODY` (1 MB) gets 413. The update is handled before
  the answer (a retry after a timeout is a replay, recognised by the adapter).
- `GET <path>/media/<id>?token=...`: a photo published in the `MediaStore` (Zalo fetches the
  digest chart from here; any worker on the database serves it).
- `GET /healthz`: "ok", for the load balancer.

The access log names the path without its query string: a media link's token (`?token=...`)
is a credential for the chart and is never logged.

An idle connection is closed after `IDLE_TIMEOUT`, a body that takes longer than `BODY_TIMEOUT`
too; the server's and the event loop's warnings are rate-limited (`bot.log_limit`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.log import access_log
from tornado.netutil import bind_sockets

from bot.log_limit import limit_server_logs
from bot.webhook_guard import BODY_TIMEOUT, IDLE_TIMEOUT, MAX_BODY, GuardedBody
from bot.zalo.media import MEDIA_SEGMENT, MediaStore
from storage.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"


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


class _Webhook(GuardedBody):
    secret_header = SECRET_HEADER

    def initialize(self, processor: Processor | None, secret: str | None) -> None:
        self.processor = processor
        self.secret = secret

    def expected_secret(self) -> str | None:
        return self.secret if self.processor is not None else None

    def log_refusal(self) -> None:
        log.warning("zalo webhook request refused: wrong or missing secret")

    async def post(self) -> None:
        assert self.processor is not None  # prepare() refused the request otherwise
        body = self.body()
        try:
            data: Any = json.loads(body or b"null")
        except ValueError as exc:
            raise tornado.web.HTTPError(400) from exc
        await self.processor.process(data)
        self.set_header("Content-Type", "application/json")
        self.write({"message": "Success"})


class _Media(tornado.web.RequestHandler):
    def initialize(self, media: MediaStore) -> None:
        self.media = media

    async def get(self, ident: str) -> None:
        found = await self.media.get(ident, self.get_query_argument("token", ""))
        if found is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", found.content_type)
        self.set_header("Cache-Control", "no-store")
        self.write(found.data)


class _Health(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("ok")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """tornado's access log line, without the query string (the media token)."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    request = handler.request
    access_log.log(
        level,
        "%d %s %s (%s) %.2fms",
        status,
        request.method,
        request.path,
        request.remote_ip,
        1000.0 * request.request_time(),
    )


class ZaloServer:
    """The HTTP server; `processor` None serves media and health only (polling mode), `media`
    None no media route."""

    def __init__(
        self,
        *,
        path: str,
        media: MediaStore | None = None,
        processor: Processor | None = None,
        secret: str | None = None,
        routes: Sequence[tuple[str, Any, dict[str, Any]]] = (),
    ) -> None:
        """`routes`: more (pattern, handler, arguments), e.g. `bot.zalo.downloads`."""
        path = "/" + path.strip("/")
        media_route = (rf"{path}/{MEDIA_SEGMENT}/([0-9a-f]{{24}})", _Media, {"media": media})
        self.app = tornado.web.Application(
            [
                (path, _Webhook, {"processor": processor, "secret": secret}),
                *([media_route] if media is not None else []),
                (HEALTH_PATH, _Health),
                *routes,
            ],
            log_function=log_request,
        )
        self.server: HTTPServer | None = None
        self.port = 0

    def start(self, listen: str, port: int) -> int:
        """Listen (port 0: any free port); returns the port."""
        sockets = bind_sockets(port, listen)
        limit_server_logs()
        self.server = HTTPServer(
            self.app,
            max_body_size=MAX_BODY,
            idle_connection_timeout=IDLE_TIMEOUT,
            body_timeout=BODY_TIMEOUT,
        )
        self.server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            await self.server.close_all_connections()
            self.server = None
