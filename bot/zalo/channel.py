"""The Zalo `Channel` for the outbox sender: a proactive message (reminder, escalation, digest,
nudge) out through the Zalo Bot API, within Zalo's own limits (settings): messages of at most
`zalo_max_message` characters, split on line boundaries, at most `zalo_send_rate` sends per
second from this process. A photo (the digest chart) goes through `sendPhoto` by URL, published
in the `MediaStore`; with no public URL configured the text goes alone. Errors arrive already
mapped by `ZaloClient` (RetryAfter / Unreachable / TransientError)."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable

from bot.channels.tables import as_lists
from bot.zalo.client import ZaloClient
from bot.zalo.media import MediaStore
from bot.zalo.render import MAX_MESSAGE, choice_lines, split_text
from scheduler.channels import SendResult, TransientError
from storage.i18n import DEFAULT_LANGUAGE
from storage.messages import OutgoingMessage
from storage.models import CHANNEL_ZALO

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]{1,200}>")


def plain(text: str) -> str:
    """HTML (as written for Telegram) as plain text: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", text))


class ZaloChannel:
    """`scheduler.channels.Channel` over a `ZaloClient`."""

    name = CHANNEL_ZALO

    def __init__(
        self,
        client: ZaloClient,
        *,
        media: MediaStore | None = None,
        max_message: int = MAX_MESSAGE,
        rate: float = 10.0,
        lang: str = DEFAULT_LANGUAGE,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.media = media
        self.max_message = max_message
        self.interval = 1.0 / rate
        self.lang = lang
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def _pace(self) -> None:
        """At most `rate` calls per second from this channel (evenly spaced, no bursts)."""
        async with self._lock:
            wait = self._next - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
            self._next = max(self._next, self._monotonic()) + self.interval

    def _photo(self, message: OutgoingMessage) -> bytes | None:
        if message.photo is not None:
            return message.photo
        if message.photo_path is None:
            return None
        try:
            with open(message.photo_path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise TransientError(f"photo unreadable: {exc.strerror}") from exc

    async def send(self, chat_id: str, message: OutgoingMessage) -> SendResult:
        text = as_lists(plain(message.text) if message.html else message.text)
        labels = [label for label, _data in message.choices]
        lines = [text, *choice_lines(labels, numbered=False, lang=self.lang)]
        parts = split_text("\n".join(line for line in lines if line), self.max_message)
        photo = self._photo(message)
        last_id = ""
        if photo is not None:
            if self.media is not None and self.media.enabled:
                url = await self.media.publish(photo)
                caption = parts[0] if len(parts) == 1 else None
                await self._pace()
                sent = await self.client.send_photo(chat_id, url, caption=caption)
                last_id = str(sent.get("message_id") or "")
                if caption is not None:
                    return SendResult(last_id)
            else:
                log.warning("zalo photo to %s sent as text only: no public media URL", chat_id)
        for part in parts:
            await self._pace()
            sent = await self.client.send_message(chat_id, part)
            last_id = str(sent.get("message_id") or last_id)
        return SendResult(last_id)
