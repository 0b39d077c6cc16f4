"""A fake Telegram Bot API over real HTTP, for end-to-end tests of `cadrebot run`.

`BotApiStub` is a tiny HTTP/1.1 server (asyncio streams, keep-alive) at
`http://127.0.0.1:<port>/bot<token>/<method>`. It understands the bodies python-telegram-bot
sends (form-urlencoded with JSON-encoded values, multipart/form-data for files, or JSON),
records every call, and answers like Telegram:

- getMe, deleteWebhook, setWebhook, getWebhookInfo, setMyCommands, answerCallbackQuery,
  editMessageReplyMarkup;
- sendMessage, sendPhoto, sendDocument, editMessageText: a Message with a fresh message_id;
- getFile for the files in `files` (file_id -> bytes; others get 400), and the file download
  `GET /file/bot<token>/<file_path>` (`file_base_url`, for CADREBOT_TELEGRAM_FILE_URL), each
  download recorded in `downloads`;
- with `reject_token`, 401 Unauthorized to everything (a revoked or mistyped token);
- getUpdates: the queued updates with update_id >= offset (an offset confirms and drops the
  earlier ones, as Telegram does); with none queued it long-polls up to `min(timeout, max_poll)`
  seconds and answers as soon as one is pushed.

Tests push updates (`push`, built with `text_update` / `photo_update` / `callback_update`) and
wait for calls with `wait_for(predicate)`, which wakes on every recorded call (no fixed
sleeps).

(`bench/fanout.py` has its own much smaller stub that only rate-limits sendMessage.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

from bot.telegram.local import BOT_ID, bot_user

T = TypeVar("T")
# The default bound of every wait (never slept: a wait ends when its call arrives). Generous, so
# that a machine busy with other work never fails a test by being slow.
OUTER = 120.0

MESSAGE_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText"}


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: dict[str, Any]
    result: Any = None

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons ({text, callback_data}) sent with this message."""
        markup = self.params.get("reply_markup")
        if not isinstance(markup, dict):
            return []
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    @property
    def message_id(self) -> int | None:
        return int(self.result["message_id"]) if isinstance(self.result, dict) else None


def _decode_value(value: str) -> Any:
    """python-telegram-bot JSON-encodes every non-string parameter (numbers, markup, lists)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The parameters of one Bot API request; uploaded files become their size in bytes."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        data = json.loads(body)
        return dict(data) if isinstance(data, dict) else {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
        )
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload: Any = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                params[str(name)] = {"file_bytes": len(payload)}
            else:
                params[str(name)] = _decode_value(payload.decode("utf-8"))
        return params
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    return {key: _decode_value(value) for key, value in pairs}


@dataclass
class BotApiStub:
    token: str = "123:TEST"
    max_poll: float = 1.0
    reject_token: bool = False  # 401 Unauthorized to every call, as Telegram answers a bad token
    calls: list[ApiCall] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # what getFile serves, by file_id
    downloads: list[str] = field(default_factory=list)  # the file paths downloaded
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update_id: int = 10_000
    _next_message_id: int = 500
    _changed: asyncio.Condition | None = None
    _server: asyncio.Server | None = None
    _connections: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        """For CADREBOT_TELEGRAM_API_URL (python-telegram-bot appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        """For CADREBOT_TELEGRAM_FILE_URL (python-telegram-bot appends the token and the path)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---------------------------------------------------------------- what tests use

    async def push(self, update: dict[str, Any]) -> None:
        """Queue an update for the next getUpdates."""
        self._updates.append(update)
        await self._notify()

    def sent(self, method: str | None = None) -> list[ApiCall]:
        return [c for c in self.calls if method is None or c.method == method]

    def messages_to(self, chat_id: int | str) -> list[ApiCall]:
        return [
            c
            for c in self.calls
            if c.method in {"sendMessage", "sendPhoto"} and c.chat_id == str(chat_id)
        ]

    async def wait_for(
        self, predicate: Callable[[list[ApiCall]], T | None], within: float = OUTER
    ) -> T:
        """Wait until `predicate(calls)` returns something truthy, and return it."""
        assert self._changed is not None
        found: list[T] = []

        def check() -> bool:
            value = predicate(self.calls)
            if value:
                found.append(value)
                return True
            return False

        async def waiting() -> None:
            assert self._changed is not None
            async with self._changed:
                await self._changed.wait_for(check)

        await asyncio.wait_for(waiting(), within)
        return found[-1]

    async def wait_for_message(
        self, chat_id: int, after: int, contains: str = "", within: float = OUTER
    ) -> ApiCall:
        """The first message to `chat_id` among calls[after:] whose text contains `contains`."""

        def find(calls: list[ApiCall]) -> ApiCall | None:
            for call in calls[after:]:
                if (
                    call.method in {"sendMessage", "sendPhoto"}
                    and call.chat_id == str(chat_id)
                    and contains in call.text
                ):
                    return call
            return None

        return await self.wait_for(find, within)

    def text_update(self, user_id: int, text: str, first_name: str = "Test") -> dict[str, Any]:
        """A private text message (a command when it starts with "/")."""
        self._next_update_id += 1
        self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "from": _user(user_id, first_name),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return {"update_id": self._next_update_id, "message": message}

    def photo_update(
        self, user_id: int, file_id: str, size: int, first_name: str = "Test"
    ) -> dict[str, Any]:
        """A private photo message (one size: `file_id` of `size` bytes)."""
        update = self.text_update(user_id, "", first_name)
        message = update["message"]
        del message["text"]
        message["photo"] = [
            {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1280,
             "height": 960, "file_size": size}
        ]  # fmt: skip
        return update

    def callback_update(
        self, user_id: int, data: str, message_id: int, first_name: str = "Test"
    ) -> dict[str, Any]:
        """A press on an inline button of the bot's message `message_id`."""
        self._next_update_id += 1
        return {
            "update_id": self._next_update_id,
            "callback_query": {
                "id": f"cq{self._next_update_id}",
                "from": _user(user_id, first_name),
                "chat_instance": f"ci{user_id}",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private", "first_name": first_name},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "Cadrebot"},
                    "text": "…",
                },
            },
        }

    # ---------------------------------------------------------------- the Bot API

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        await self._notify()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            assert self._changed is not None
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self._updates)),
                        min(timeout, self.max_poll),
                    )
        return self._updates[:limit]

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_message_id += 1
        chat_id = int(params.get("chat_id") or 0)
        message: dict[str, Any] = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Cadrebot"},
        }
        if "text" in params:
            message["text"] = str(params["text"])
        if params.get("caption"):
            message["caption"] = str(params["caption"])
        if method == "sendPhoto":
            message["photo"] = [{"file_id": "p1", "file_unique_id": "u1", "width": 8, "height": 8}]
        if method == "sendDocument":
            message["document"] = {"file_id": "d1", "file_unique_id": "u2"}
        return message

    async def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return bot_user()
        if method == "getUpdates":
            return await self._get_updates(params)
        if method in MESSAGE_METHODS:
            return self._message(method, params)
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getFile":
            file_id = str(params.get("file_id", ""))
            return {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}.jpg",
            }
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._connections.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                _verb, path, _version = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await _read_body(reader, headers)
                if unquote(path).startswith(f"/file/bot{self.token}/"):
                    status, data = self._download(path)
                    kind = "application/octet-stream"
                else:
                    status, answer = await self._dispatch(path, headers, body)
                    data, kind = json.dumps(answer).encode(), "application/json"
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                    f"Content-Type: {kind}\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Only `close()` cancels a handler; ending quietly keeps asyncio's stream callback
            # from logging the cancellation as an error.
            return
        finally:
            self._connections.discard(writer)
            self._handlers.discard(task)
            writer.close()

    def _download(self, path: str) -> tuple[int, bytes]:
        """`GET /file/bot<token>/photos/<file_id>.jpg`: the bytes getFile described."""
        path = unquote(path)  # python-telegram-bot quotes the token's ":"
        self.downloads.append(path)
        name = path.rsplit("/", 1)[-1].removesuffix(".jpg")
        found = self.files.get(name)
        return (200, found) if found is not None else (404, b"Not Found")

    async def _dispatch(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        method = path[len(prefix) :].split("?", 1)[0]
        params = parse_body(headers.get("content-type", ""), body)
        if self.reject_token:
            await self._record(ApiCall(method, params, None))
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getFile" and str(params.get("file_id")) not in self.files:
            await self._record(ApiCall(method, params, None))
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: invalid file_id",
            }
        result = await self._answer(method, params)
        await self._record(ApiCall(method, params, result))
        return 200, {"ok": True, "result": result}


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    length = int(headers.get("content-length") or 0)
    return await reader.readexactly(length) if length else b""


def _user(user_id: int, first_name: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}
