"""Zalo's sendPhoto takes a URL, not a file: the digest chart is kept here for a short while and
served by the Zalo server (`bot.zalo.webhook`) at `<public origin><path>/media/<id>?token=...`.
Entries live in this process only, so the server that serves them must be the process that sends
(as `cadrebot run` is); each entry is unguessable and expires."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.zalo.kept import Kept

MEDIA_SEGMENT = "media"
TTL_SECONDS = 15 * 60.0
MAX_ENTRIES = 200


@dataclass(frozen=True)
class Media:
    data: bytes
    content_type: str
    token: str
    expires: float


class MediaStore:
    def __init__(
        self,
        public_base: str | None,
        *,
        ttl: float = TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`public_base`: the public URL of the media route's prefix (None: no photos)."""
        self.public_base = public_base.rstrip("/") if public_base else None
        self.ttl = ttl
        self.monotonic = monotonic
        self._items: Kept[Media] = Kept(MAX_ENTRIES, lambda: self.monotonic())

    @property
    def enabled(self) -> bool:
        return self.public_base is not None

    def publish(self, data: bytes, content_type: str = "image/png") -> str:
        """Keep `data` and return the public URL Zalo fetches it from."""
        if self.public_base is None:
            raise RuntimeError("no public URL for Zalo media")
        token = secrets.token_urlsafe(18)
        ident = self._items.add(Media(data, content_type, token, self.monotonic() + self.ttl))
        return f"{self.public_base}/{MEDIA_SEGMENT}/{ident}?token={token}"

    def get(self, ident: str, token: str) -> Media | None:
        media = self._items.get(ident)
        if media is None or not secrets.compare_digest(media.token, token):
            return None
        return media
