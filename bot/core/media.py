"""Downloading a file sent in chat (`bot.core.io.Media`): through the channel's own fetcher
(`Runtime.media`: Telegram's getFile and file URL, `bot.telegram.files`), or, for a channel
that hands over an https URL (Zalo's image `photo_url`), `fetch_https`."""

from __future__ import annotations

import httpx

from bot.core.io import FetchFailed
from bot.core.turn import Runtime

FETCH_TIMEOUT = 30.0


async def fetch_https(url: str, limit: int) -> bytes:
    """The bytes at `url` (https), at most `limit` + 1 of them (the caller refuses more)."""
    if not url.startswith("https://"):
        raise FetchFailed("not https")
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code}")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > limit:
                    break
            return bytes(data[: limit + 1])
    except httpx.HTTPError as exc:
        raise FetchFailed(type(exc).__name__) from exc


async def fetch(runtime: Runtime, ref: str, limit: int) -> bytes:
    """The file behind `ref`, by the runtime's channel. Raises FetchFailed, or EvidenceRefused
    when the platform says it is larger than `limit`."""
    if runtime.media is not None:
        return await runtime.media(ref, limit)
    return await fetch_https(ref, limit)
