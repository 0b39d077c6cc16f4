"""The Zalo adapter: a Zalo update becomes an `Inbound`, the turn runner
(`bot.core.turn.run_turn`) does the rest (the same commands as on Telegram), and the stored
texts go out through the Zalo Bot API.

What is Zalo's own:
- a group chat: a command gets one short "write to me privately" answer (nothing read or
  written); anything else is ignored;
- text only: choices are numbered lines (`bot.zalo.render`), a photo goes by URL (the digest
  chart, `bot.zalo.media`), a file as a short-lived signed link (`bot.zalo.downloads`);
- an image, a sticker, anything that is not text: an `Inbound` of kind "other".

Replays (getUpdates after a crash, a webhook retry, a second worker) are recognised by
`event_name` + `message_id` in `processed_update` (channel "zalo"); a replay sends only what
was not delivered. Zalo does not redeliver an update whose answer failed, so a reply that fails
after the commit is handed to the outbox, which the sender retries."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.io import FileOut, Inbound, Media, Outcome, ReplyLike
from bot.core.turn import Output, Runtime, Unsaid, current, run_turn
from bot.zalo.channel import ZaloChannel
from bot.zalo.client import ZaloClient
from bot.zalo.downloads import DownloadStore
from bot.zalo.render import render_all
from scheduler.channels import RetryAfter
from storage.clock import Clock
from storage.db import Database, DatabaseBusy, bounded_writes
from storage.i18n import pick_language, t
from storage.messages import OutgoingMessage
from storage.models import CHANNEL_ZALO
from storage.organisation import organisation_name
from storage.settings import Settings
from storage.text_clean import NUL, clean

log = logging.getLogger(__name__)

EVENT_TEXT = "message.text.received"
EVENT_SHORT = {
    EVENT_TEXT: "t",
    "message.image.received": "i",
    "message.sticker.received": "s",
    "message.unsupported.received": "u",
}
MAX_KEY = 64  # processed_update.update_id


@dataclass(frozen=True)
class ZaloMessage:
    event: str
    message_id: str
    user_id: str
    chat_id: str
    group: bool
    text: str
    name: str | None
    photo_url: str = ""  # an image message (https only)

    @property
    def key(self) -> str:
        """The dedupe key: event + message id (hashed if it would not fit the column)."""
        key = f"{EVENT_SHORT.get(self.event, self.event)}:{self.message_id}"
        if len(key) > MAX_KEY:
            key = "h:" + hashlib.sha256(key.encode()).hexdigest()[:40]
        return key


def parse_update(data: object) -> ZaloMessage | None:
    """The fields the bot uses, or None for anything it cannot read (ignored)."""
    if not isinstance(data, dict):
        return None
    if "event_name" not in data and isinstance(data.get("result"), dict):
        data = data["result"]  # a webhook body wrapped like an API answer
    assert isinstance(data, dict)
    event = data.get("event_name")
    message = data.get("message")
    if not isinstance(event, str) or not isinstance(message, dict):
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    assert isinstance(sender, dict) and isinstance(chat, dict)
    user_id, message_id = sender.get("id"), message.get("message_id")
    if user_id in (None, "") or message_id in (None, ""):
        return None
    if any(NUL in str(v) for v in (user_id, message_id, chat.get("id") or "")):
        return None  # forged: PostgreSQL cannot store a NUL in a key
    name = sender.get("display_name") or sender.get("name")
    name = clean(str(name).replace(NUL, "")).strip() if name else None
    chat_type = str(chat.get("chat_type") or chat.get("type") or "PRIVATE").upper()
    text = message.get("text")
    photo = message.get("photo_url")
    photo_url = photo if isinstance(photo, str) and photo.startswith("https://") else ""
    return ZaloMessage(
        photo_url=photo_url[:2000],
        event=event[:64],
        message_id=str(message_id)[:200],
        user_id=str(user_id)[:64],
        chat_id=str(chat.get("id") or user_id)[:64],
        group=chat_type != "PRIVATE",
        text=text if isinstance(text, str) else "",
        name=str(name)[:255] if name else None,
    )


def split_command(text: str) -> tuple[str | None, str]:
    """("baocao", "args") for "/baocao args" (also "/BaoCao@bot"); (None, text) otherwise."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None, text
    head, _, rest = stripped[1:].partition(" ")
    return head.split("@")[0].lower(), rest.strip()


def inbound_of(msg: ZaloMessage) -> Inbound:
    common: dict[str, Any] = {
        "channel": CHANNEL_ZALO,
        "key": msg.key,
        "user_id": msg.user_id,
        "chat_id": msg.chat_id,
        "display_name": msg.name,
    }
    if msg.event != EVENT_TEXT:
        media = Media(msg.photo_url) if msg.photo_url else None
        return Inbound(kind="other", media=media, **common)
    command, args = split_command(msg.text)
    if command is not None:
        return Inbound(
            kind="command", command=command, args=tuple(args.split()), text=msg.text, **common
        )
    return Inbound(kind="text", text=msg.text, **common)


class ZaloAdapter:
    """`bot.core.turn.Adapter` for Zalo, and `process`, the entry point of every update."""

    channel = CHANNEL_ZALO

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        client: ZaloClient,
        engine: Any = None,
        sender: ZaloChannel | None = None,
        downloads: DownloadStore | None = None,
    ) -> None:
        self.runtime = Runtime(db=db, clock=clock, settings=settings, engine=engine)
        self.settings = settings
        self.client = client
        self.sender = sender or ZaloChannel(
            client, max_message=settings.zalo_max_message, rate=1000.0, lang=settings.language
        )
        self.downloads = downloads
        self.limit = settings.zalo_max_message

    async def process(self, data: object) -> None:
        """Handle one update. Never raises: a failed turn is rolled back (so the update may be
        tried again) and the person gets a short apology instead of silence."""
        msg = parse_update(data)
        if msg is None:
            log.info("zalo update ignored: not a message")
            return
        if msg.group:
            if split_command(msg.text)[0] is not None:
                await self._say(msg.chat_id, t("zalo.group", self.settings.language))
            return
        try:
            with bounded_writes():
                await run_turn(self.runtime, self, inbound_of(msg))
        except Exception as exc:  # the error boundary of a turn (as PTB's error handler)
            log.error(
                "zalo update %s from user %s failed: %s",
                msg.key,
                msg.user_id,
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            key = "db.busy" if isinstance(exc, DatabaseBusy) else "zalo.error"
            turn = current.get()  # the person's language, once the turn knew who wrote
            lang = turn.lang if turn is not None and turn.key == msg.key else None
            await self._say(msg.chat_id, t(key, pick_language(lang, self.settings.language)))

    async def _say(self, chat_id: str, text: str) -> None:
        try:
            await self.client.send_message(chat_id, text)
        except Exception as exc:
            log.warning("zalo message to %s failed: %s", chat_id, type(exc).__name__)

    # --- bot.core.turn.Adapter ---------------------------------------------------------------

    def render(self, chat_id: str, replies: Sequence[ReplyLike], lang: str) -> list[dict[str, Any]]:
        texts = render_all(replies, lang, limit=self.limit)
        return [{"chat_id": chat_id, "text": text} for text in texts]

    async def send(self, message: dict[str, Any]) -> None:
        chat_id, text = str(message["chat_id"]), str(message["text"])
        try:
            await self.client.send_message(chat_id, text)
        except RetryAfter as exc:
            if exc.seconds > 10:
                raise
            await asyncio.sleep(exc.seconds)
            await self.client.send_message(chat_id, text)

    async def _link(self, output: FileOut, person_id: int | None, lang: str) -> OutgoingMessage:
        if self.downloads is None or not self.downloads.enabled or person_id is None:
            organisation = organisation_name(self.settings, lang)
            return OutgoingMessage(
                text=t("zalo.download.unavailable", lang, organisation=organisation)
            )
        url = await self.downloads.publish(
            output.data,
            filename=output.filename,
            person_id=person_id,
            content_type=output.content_type,
        )
        minutes = self.downloads.ttl // 60
        return OutgoingMessage(
            text=t("zalo.download.link", lang, caption=output.caption, url=url, minutes=minutes)
        )

    async def send_output(
        self, chat_id: str, output: Output, *, person_id: int | None, lang: str, now: datetime
    ) -> None:
        message = (
            output
            if isinstance(output, OutgoingMessage)
            else await self._link(output, person_id, lang)
        )
        await self.sender.send(chat_id, message)

    async def outgoing(
        self, chat_id: str, output: Unsaid, *, person_id: int | None, lang: str, now: datetime
    ) -> OutgoingMessage | None:
        if isinstance(output, dict):
            return OutgoingMessage(text=str(output["text"]))
        if isinstance(output, FileOut):
            return await self._link(output, person_id, lang)
        return output

    async def acknowledge(self, inbound: Inbound, outcome: Outcome) -> None:
        return None  # no buttons on Zalo

    async def finish(self, inbound: Inbound, outcome: Outcome, lang: str) -> None:
        return None  # no command menu on Zalo
