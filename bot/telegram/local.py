"""A local Bot API: drive the real python-telegram-bot Application in process, with no network.

Used by the offline demo, the benchmarks and the tests.

Follows python-telegram-bot's own tests/auxil/networking.py: a `BaseRequest` subclass answers
the Bot API locally. `RecordingRequest` records every call (method + parsed parameters), can
be told to fail for some chats (429 / 403 / 400 / 502), and serves the files people "sent"
(`serve`: getFile and the download of the file URL, as Telegram does). `TelegramHarness`
builds real `Update` objects from the JSON Telegram would send (increasing update ids), feeds
them through `application.process_update` and returns the calls made while handling them:

    harness = await LocalBot.start(db=db, clock=lambda: now)
    calls = await harness.send("/start " + code, user=ALICE)
    assert "Chào đồng chí" in calls.texts()[0]
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.app import build_application
from storage.clock import Clock
from storage.db import Database
from storage.settings import Settings

TOKEN = "123:ABC"  # a placeholder: no request ever leaves the process
FILE_SEGMENT = "/file/bot"  # in a file URL: https://api.telegram.org/file/bot<token>/<path>
BOT_ID = 123
BOT_USERNAME = "cadrebot_test"


def bot_user() -> dict[str, Any]:
    """The bot as getMe describes it, in every Bot API stand-in (this one, the tests' server)."""
    return {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": "Cadrebot",
        "username": BOT_USERNAME,
        "can_join_groups": False,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class Calls:
    """The Bot API calls recorded while handling one or more updates."""

    items: list[Call] = field(default_factory=list)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.items if c.method == method]

    def texts(self) -> list[str]:
        """Texts of the messages sent (sendMessage text / sendPhoto caption), in order."""
        return [c.text for c in self.items if c.method in {"sendMessage", "sendPhoto"}]

    def text(self) -> str:
        return "\n".join(self.texts())

    def keyboards(self) -> list[list[list[dict[str, Any]]]]:
        """Inline keyboards of the messages sent, as rows of {text, callback_data}."""
        result = []
        for c in self.of("sendMessage"):
            markup = c.params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if markup and "inline_keyboard" in markup:
                result.append(markup["inline_keyboard"])
        return result

    def buttons(self) -> list[dict[str, Any]]:
        return [button for kb in self.keyboards() for row in kb for button in row]

    def everything(self) -> str:
        """Every parameter of every call as one string (to assert something is NOT there)."""
        return json.dumps([[c.method, c.params] for c in self.items], ensure_ascii=False)


@dataclass
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


class RecordingRequest(BaseRequest):
    """Answers Bot API calls locally and records them."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.calls: list[Call] = []
        self.files: list[tuple[str, bytes]] = []  # (filename, bytes) of every uploaded file
        self.failures: dict[str, Failure] = {}
        self.method_failures: dict[str, list[Failure]] = {}
        self._message_id = 1000
        self._clock = clock or (lambda: datetime(2016, 6, 1, tzinfo=UTC))
        self.served: dict[str, bytes] = {}  # file_id -> the bytes getFile's URL downloads
        self.downloads: list[str] = []  # the file URLs downloaded, in order

    # -- configuration

    def fail_chat(
        self, chat_id: int | str, status: int, description: str, **parameters: Any
    ) -> None:
        """Every send to `chat_id` fails with this HTTP status (429 with retry_after=...)."""
        self.failures[str(chat_id)] = Failure(status, description, parameters or None)

    def fail_next(self, method: str, status: int, description: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with this HTTP status (e.g. an
        answerCallbackQuery for a query that is too old: 400)."""
        queue = self.method_failures.setdefault(method, [])
        queue.extend(Failure(status, description) for _ in range(times))

    def serve(self, file_id: str, data: bytes) -> None:
        """The file behind `file_id` (a photo or document in an update): getFile describes it,
        its URL downloads it; an unknown file_id gets Telegram's 400."""
        self.served[file_id] = data

    def since(self, mark: int) -> Calls:
        return Calls(self.calls[mark:])

    # -- BaseRequest

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if method == "GET" and FILE_SEGMENT in url:  # a file download (File.download_*)
            self.downloads.append(url)
            found = self.served.get(url.rsplit("/", 1)[-1])
            return (200, found) if found is not None else (404, b"Not Found")
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        self.calls.append(Call(api_method, params))
        if request_data is not None and request_data.multipart_data:
            for filename, content, *_ in request_data.multipart_data.values():
                data = content if isinstance(content, bytes) else content.read()
                self.files.append((str(filename), data))
        chat = params.get("chat_id")
        failure = self.failures.get(str(chat)) if chat is not None else None
        if self.method_failures.get(api_method):
            failure = self.method_failures[api_method].pop(0)
        if api_method == "getFile" and str(params.get("file_id")) not in self.served:
            failure = Failure(400, "Bad Request: invalid file_id")
        if failure is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.parameters:
                body["parameters"] = failure.parameters
            return failure.status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(api_method, params)}).encode()

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return bot_user()
        if method in {"sendMessage", "sendPhoto", "sendDocument", "editMessageText"}:
            self._message_id += 1
            message: dict[str, Any] = {
                "message_id": self._message_id,
                "date": int(self._clock().timestamp()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Cadrebot"},
            }
            if "text" in params:
                message["text"] = params["text"]
            if "caption" in params:
                message["caption"] = params["caption"]
            if method == "sendPhoto":
                message["photo"] = [
                    {"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10}
                ]
            if method == "sendDocument":
                message["document"] = {"file_id": "d1", "file_unique_id": "u2"}
            return message
        if method == "getUpdates":
            return []
        if method == "getFile":
            return self._file(str(params.get("file_id", "")))
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True

    def _file(self, file_id: str) -> Any:
        data = self.served[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": f"documents/{file_id}",
        }


@dataclass(frozen=True)
class TgUser:
    id: int
    first_name: str = "Test"
    last_name: str | None = None
    language_code: str | None = "vi"

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.language_code:
            data["language_code"] = self.language_code
        return data


class UpdateFactory:
    """Telegram's JSON for the kinds of update the bot meets, with increasing update ids."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.next_update_id = 5000
        self.next_message_id = 1

    def _ids(self) -> tuple[int, int]:
        self.next_update_id += 1
        self.next_message_id += 1
        return self.next_update_id, self.next_message_id

    def _message(
        self, user: TgUser, chat: dict[str, Any] | None, message_id: int, **content: Any
    ) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "date": int(self.clock().timestamp()),
            "chat": chat or {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": user.json(),
            **content,
        }

    @staticmethod
    def _text_content(text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return content

    def text(self, text: str, user: TgUser, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        """A text message (a command when it starts with "/") in the private chat, or in `chat`."""
        update_id, message_id = self._ids()
        return {
            "update_id": update_id,
            "message": self._message(user, chat, message_id, **self._text_content(text)),
        }

    def group_text(self, text: str, user: TgUser, group_id: int = -100200) -> dict[str, Any]:
        return self.text(text, user, chat={"id": group_id, "type": "group", "title": "Chi bộ"})

    def edited(self, text: str, user: TgUser, message_id: int | None = None) -> dict[str, Any]:
        update_id, fresh_id = self._ids()
        message = self._message(user, None, message_id or fresh_id, **self._text_content(text))
        message["edit_date"] = int(self.clock().timestamp())
        return {"update_id": update_id, "edited_message": message}

    def sticker(self, user: TgUser) -> dict[str, Any]:
        update_id, message_id = self._ids()
        sticker = {
            "file_id": "s1",
            "file_unique_id": "su1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return {
            "update_id": update_id,
            "message": self._message(user, None, message_id, sticker=sticker),
        }

    def image(self, user: TgUser, file_id: str = "photo-1", size: int = 4096) -> dict[str, Any]:
        """A photo in the private chat (Telegram sends a few sizes, the largest last)."""
        update_id, message_id = self._ids()
        photo = [
            {"file_id": f"{file_id}-s", "file_unique_id": f"{file_id}-us", "width": 90,
             "height": 60, "file_size": 900},
            {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1280,
             "height": 960, "file_size": size},
        ]  # fmt: skip
        return {
            "update_id": update_id,
            "message": self._message(user, None, message_id, photo=photo),
        }

    def document(
        self,
        user: TgUser,
        file_id: str = "doc-1",
        size: int | None = 4096,
        mime_type: str | None = "application/pdf",
        file_name: str = "bien-ban.pdf",
    ) -> dict[str, Any]:
        """A file sent as a document (a scan, a PDF); `size`/`mime_type` None: not said."""
        update_id, message_id = self._ids()
        document: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": file_name,
        }
        if size is not None:
            document["file_size"] = size
        if mime_type is not None:
            document["mime_type"] = mime_type
        return {
            "update_id": update_id,
            "message": self._message(user, None, message_id, document=document),
        }

    def callback(
        self, data: str, user: TgUser, message_id: int = 1, message_text: str = "…"
    ) -> dict[str, Any]:
        update_id, _ = self._ids()
        message = {
            "message_id": message_id,
            "date": int(self.clock().timestamp()),
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Cadrebot"},
            "text": message_text,
        }
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cq{update_id}",
                "from": user.json(),
                "chat_instance": f"ci{user.id}",
                "data": data,
                "message": message,
            },
        }


class LocalBot:
    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        request: RecordingRequest,
        clock: Clock,
    ) -> None:
        self.app = app
        self.request = request
        self.updates = UpdateFactory(clock)

    @classmethod
    async def start(
        cls,
        *,
        db: Database,
        clock: Clock,
        settings: Settings | None = None,
        engine: Any = None,
        request: RecordingRequest | None = None,
    ) -> LocalBot:
        request = request or RecordingRequest(clock)
        config = settings or Settings(telegram_token=TOKEN, _env_file=None)
        app = build_application(
            config, db=db, clock=clock, request=request, engine=engine, telegram_limits=False
        )
        await app.initialize()
        return cls(app, request, clock)

    async def stop(self) -> None:
        await self.app.shutdown()

    async def process(self, data: dict[str, Any]) -> Calls:
        """Feed one update (Telegram's JSON) through the application; the calls it caused."""
        mark = len(self.request.calls)
        update = Update.de_json(data, self.app.bot)
        await self.app.process_update(update)
        return self.request.since(mark)

    async def send(self, text: str, user: TgUser) -> Calls:
        return await self.process(self.updates.text(text, user))

    async def press(self, data: str, user: TgUser, message_id: int = 1) -> Calls:
        return await self.process(self.updates.callback(data, user, message_id=message_id))
