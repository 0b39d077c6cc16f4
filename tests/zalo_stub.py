"""A local Zalo Bot API over real HTTP (tornado on the test's asyncio loop): `getUpdates` serves
a queue (long polling: waits up to the asked timeout, then answers error 408 like Zalo),
`sendMessage` / `sendPhoto` / the other methods are recorded, `sendPhoto` fetches its photo URL
as Zalo would, and chats or methods can be told to fail (429 / 403 / 400 / 500).

    stub = await ZaloStub.start()
    client = ZaloClient(TOKEN, stub.base_url)
    stub.push(updates.text(ALICE, "/baocao"))
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

TOKEN = "1234567890:zalo-test-token"
# The default bound of every wait (never slept: a wait ends when its call arrives). Generous, so
# that a machine busy with other work never fails a test by being slow.
OUTER = 120.0


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id", ""))

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class ZaloStub:
    calls: list[Call] = field(default_factory=list)
    updates: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    chat_failures: dict[str, Failure] = field(default_factory=dict)
    method_failures: dict[str, deque[Failure]] = field(default_factory=dict)
    photos: list[bytes] = field(default_factory=list)  # what sendPhoto's URLs served
    webhook: dict[str, str] = field(default_factory=dict)
    port: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: HTTPServer | None = None
    _next_id: int = 0

    @classmethod
    async def start(cls) -> ZaloStub:
        stub = cls()
        app = tornado.web.Application([(r"/bot([^/]+)/(\w+)", _Api, {"stub": stub})])
        sockets = bind_sockets(0, "127.0.0.1")
        stub._server = HTTPServer(app)
        stub._server.add_sockets(sockets)
        stub.port = int(sockets[0].getsockname()[1])
        return stub

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- driving -------------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> None:
        self.updates.put_nowait(update)

    def fail_chat(self, chat_id: str, status: int, description: str, **kw: Any) -> None:
        self.chat_failures[str(chat_id)] = Failure(status, description, kw.get("retry_after"))

    def fail_next(self, method: str, status: int, description: str, **kw: Any) -> None:
        queue = self.method_failures.setdefault(method, deque())
        queue.append(Failure(status, description, kw.get("retry_after")))

    # --- reading -------------------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method in {"sendMessage", "sendPhoto"}
            and (chat_id is None or c.chat_id == str(chat_id))
        ]

    def texts(self, chat_id: str | None = None, since: int = 0) -> list[str]:
        return [c.text for c in self.sent(chat_id)[since:]]

    async def wait_sent(self, count: int, limit: float = OUTER) -> None:
        """Until at least `count` messages were sent (fails the test after `limit` seconds)."""

        async def until() -> None:
            while len(self.sent()) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), limit)

    # --- answering -----------------------------------------------------------------------------

    async def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method != "getUpdates":
            self.calls.append(Call(method, params))
            self.changed.set()
        failure = None
        if self.method_failures.get(method):
            failure = self.method_failures[method].popleft()
        elif "chat_id" in params:
            failure = self.chat_failures.get(str(params["chat_id"]))
        if failure is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return failure.status, body
        if method == "getUpdates":
            try:
                timeout = min(float(params.get("timeout", 30)), 30.0)
                update = await asyncio.wait_for(self.updates.get(), timeout)
            except TimeoutError:
                return 200, {"ok": False, "error_code": 408, "description": "Request timeout"}
            return 200, {"ok": True, "result": update}
        if method == "sendPhoto":
            async with httpx.AsyncClient(timeout=120.0) as http:
                response = await http.get(str(params["photo"]))
            if response.status_code != 200:
                return 400, {"ok": False, "error_code": 400, "description": "photo unreachable"}
            self.photos.append(response.content)
        if method in {"sendMessage", "sendPhoto"}:
            self._next_id += 1
            result: Any = {"message_id": f"m{self._next_id}", "date": 1474000000000}
            return 200, {"ok": True, "result": result}
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": "42", "account_name": "cadrebot"}}
        if method == "setWebhook":
            self.webhook = {"url": params["url"], "secret_token": params["secret_token"]}
            return 200, {"ok": True, "result": {"url": params["url"]}}
        if method == "deleteWebhook":
            self.webhook = {}
            return 200, {"ok": True, "result": {"url": ""}}
        if method == "getWebhookInfo":
            return 200, {"ok": True, "result": {"url": self.webhook.get("url", "")}}
        return 200, {"ok": True, "result": True}


class _Api(tornado.web.RequestHandler):
    def initialize(self, stub: ZaloStub) -> None:
        self.stub = stub

    async def post(self, token: str, method: str) -> None:
        if token != TOKEN:
            self.set_status(401)
            self.write({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params = json.loads(self.request.body or b"{}")
        status, body = await self.stub.answer(method, params)
        self.set_status(status)
        self.write(body)


@dataclass(frozen=True)
class ZaloUser:
    id: str
    name: str = "Người dùng Zalo"


class ZaloUpdates:
    """Zalo's JSON for the kinds of update the bot meets, with increasing message ids."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.next_id = 0
        self.moment = moment or datetime(2016, 9, 29, tzinfo=UTC)

    def _message(
        self, user: ZaloUser, event: str, chat_type: str = "PRIVATE", **content: Any
    ) -> dict[str, Any]:
        self.next_id += 1
        chat_id = user.id if chat_type == "PRIVATE" else "group-1"
        return {
            "event_name": event,
            "message": {
                "message_id": f"zm{self.next_id:06d}",
                "from": {"id": user.id, "display_name": user.name, "is_bot": False},
                "chat": {"id": chat_id, "chat_type": chat_type},
                "date": int(self.moment.timestamp() * 1000),
                **content,
            },
        }

    def text(self, user: ZaloUser, text: str) -> dict[str, Any]:
        return self._message(user, "message.text.received", text=text)

    def group_text(self, user: ZaloUser, text: str) -> dict[str, Any]:
        return self._message(user, "message.text.received", chat_type="GROUP", text=text)

    def sticker(self, user: ZaloUser) -> dict[str, Any]:
        return self._message(user, "message.sticker.received", sticker="s1")

    def image(self, user: ZaloUser) -> dict[str, Any]:
        return self._message(user, "message.image.received", photo_url="https://x/p.jpg")
