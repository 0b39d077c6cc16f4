"""The guard both webhook servers (Telegram's and Zalo's) put in front of an update's body.

A POST is refused from its headers alone, before any byte of the body is read
(`stream_request_body`): without the secret header, or with another value (constant-time
comparison), 403; a declared body over `MAX_BODY`, 413. A streamed body that passes the cap is
cut off with 413 as soon as it does. A refused request's connection is closed, so its unread
body cannot be taken for the next request. Other methods (GET, the health check) pass."""

from __future__ import annotations

import hmac
from typing import ClassVar

import tornado.web

MAX_BODY = 1024 * 1024  # bytes; an update is a few KB
IDLE_TIMEOUT = 75.0  # seconds a connection may stay idle (or take to send its headers)
BODY_TIMEOUT = 30.0  # seconds a request may take to send its body


@tornado.web.stream_request_body
class GuardedBody(tornado.web.RequestHandler):
    """Subclasses name `secret_header`, say which secret is expected (None: refuse every
    POST) and how a refusal is logged; `body()` is the request's body once it was let in."""

    secret_header: ClassVar[str] = ""

    def expected_secret(self) -> str | None:
        return None

    def log_refusal(self) -> None:
        return None

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        if self.request.method != "POST":
            return
        given = self.request.headers.get(self.secret_header, "")
        secret = self.expected_secret()
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            self.log_refusal()
            self._refuse(403)
            return
        try:
            declared = int(self.request.headers.get("Content-Length", "0"))
        except ValueError:
            declared = MAX_BODY + 1
        if declared > MAX_BODY:
            self._refuse(413)
            return
        self.request.connection.set_max_body_size(MAX_BODY)  # type: ignore[union-attr]

    def _refuse(self, status: int) -> None:
        self.set_status(status)
        # The unread body must not be taken for the next request on this connection.
        self.set_header("Connection", "close")
        self.finish()

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > MAX_BODY:
            raise tornado.web.HTTPError(413)
        self._chunks.append(chunk)

    def body(self) -> bytes:
        return b"".join(self._chunks)
