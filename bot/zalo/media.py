"""Zalo's sendPhoto takes a URL, not a file: the digest chart is kept in the database for a short
while (`bot.zalo.kept`) and served by the Zalo server (`bot.zalo.webhook`) at
`<public origin><path>/media/<id>?token=<signature of the id>`. Any worker on the database
serves it. The same chart sent to many supervisors is kept once (by its content), and each
send gives it `ttl` more; after that the link is refused."""

from __future__ import annotations

from datetime import timedelta

from bot.zalo.kept import KeptLinks
from storage.models import KeptFile

MEDIA_SEGMENT = "media"
TTL_SECONDS = 15 * 60


class MediaStore(KeptLinks):
    """`public_base`: the public URL of the media route's prefix (None: no photos)."""

    TTL_SECONDS = TTL_SECONDS

    async def publish(self, data: bytes, content_type: str = "image/png") -> str:
        """Keep `data` and return the public URL Zalo fetches it from."""
        if self.public_base is None:
            raise RuntimeError("no public URL for Zalo media")
        row = await self.kept.keep(data, content_type=content_type, ttl=timedelta(seconds=self.ttl))
        token = self.kept.sign(MEDIA_SEGMENT, row.id)
        return f"{self.public_base}/{MEDIA_SEGMENT}/{row.id}?token={token}"

    async def get(self, ident: str, token: str) -> KeptFile | None:
        """The file, for the right token, until it expires."""
        if not self.kept.signed(token, MEDIA_SEGMENT, ident):
            return None
        found = await self.kept.get(ident)
        return found if found is not None and found.person_id is None else None
