"""Files for Zalo users (the /xuat workbook): the Zalo Bot API cannot upload files, so the bot
keeps the file in the database for a short while (`bot.zalo.kept`) and sends a download link
served by the Zalo server (`bot.zalo.webhook.ZaloServer`, the server that serves the chart):

    <public origin><path>/files/<id>?p=<person id>&e=<expiry, unix time>&s=<signature>

The signature is an HMAC-SHA256 of id, person and expiry under the key every worker shares
(`bot.zalo.kept.link_key`), so a link is bound to one file and one person: a link with another
file's id, another person, a later expiry or a forged signature is refused, and so is any link
after its expiry (a page in the bot's language says why). Any worker on the database serves
the link, whichever made it."""

from __future__ import annotations

import html
from datetime import timedelta
from enum import Enum
from urllib.parse import quote

import tornado.web

from bot.zalo.kept import KeptLinks
from storage.i18n import DEFAULT_LANGUAGE, t
from storage.models import KeptFile

FILES_SEGMENT = "files"
TTL_SECONDS = 30 * 60


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"
    REFUSED = "refused"


class DownloadStore(KeptLinks):
    """`public_base`: the public URL prefix of the server's path (None: no links); the
    expiries are unix times from `kept.clock`."""

    TTL_SECONDS = TTL_SECONDS

    def _now(self) -> int:
        return int(self.kept.clock().timestamp())

    async def publish(
        self, data: bytes, *, filename: str, person_id: int, content_type: str
    ) -> str:
        """Keep the file and return the link only `person_id` may use, until the expiry."""
        if self.public_base is None:
            raise RuntimeError("no public URL for Zalo downloads")
        row = await self.kept.keep(
            data,
            content_type=content_type,
            ttl=timedelta(seconds=self.ttl),
            filename=filename,
            person_id=person_id,
        )
        expires = int(row.expires_at.timestamp())
        signature = self.kept.sign(FILES_SEGMENT, row.id, person_id, expires)
        return (
            f"{self.public_base}/{FILES_SEGMENT}/{row.id}?p={person_id}&e={expires}&s={signature}"
        )

    async def check(
        self, ident: str, person: str, expires: str, signature: str
    ) -> tuple[Verdict, KeptFile | None]:
        if not all(v.isascii() and v.isdigit() and len(v) <= 12 for v in (person, expires)):
            return Verdict.REFUSED, None
        if not self.kept.signed(signature, FILES_SEGMENT, ident, int(person), int(expires)):
            return Verdict.REFUSED, None
        if int(expires) <= self._now():
            return Verdict.EXPIRED, None
        found = await self.kept.get(ident)
        if found is None:
            return Verdict.EXPIRED, None
        if found.person_id != int(person) or int(found.expires_at.timestamp()) != int(expires):
            return Verdict.REFUSED, None
        return Verdict.OK, found


PAGE = (
    '<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title></head><body><p>{text}</p></body></html>"
)


class DownloadHandler(tornado.web.RequestHandler):
    """`GET <path>/files/<id>?p=&e=&s=`: the file, or a page saying why not (403 / 410)."""

    def initialize(self, store: DownloadStore, lang: str = DEFAULT_LANGUAGE) -> None:
        self.store = store
        self.lang = lang

    async def get(self, ident: str) -> None:
        verdict, found = await self.store.check(
            ident,
            self.get_query_argument("p", ""),
            self.get_query_argument("e", ""),
            self.get_query_argument("s", ""),
        )
        if verdict is not Verdict.OK or found is None:
            self.set_status(410 if verdict is Verdict.EXPIRED else 403)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            text = t(f"zalo.download.{verdict.value}", self.lang)
            self.write(
                PAGE.format(
                    lang=self.lang,
                    title=html.escape(t("zalo.download.title", self.lang)),
                    text=html.escape(text),
                )
            )
            return
        self.set_header("Content-Type", found.content_type)
        self.set_header("Cache-Control", "no-store")
        self.set_header(
            "Content-Disposition", f"attachment; filename*=UTF-8''{quote(found.filename)}"
        )
        self.write(found.data)


def download_route(
    path: str, store: DownloadStore, lang: str
) -> tuple[str, type, dict[str, object]]:
    """The route to add to the Zalo server (`ZaloServer(routes=[...])`)."""
    path = "/" + path.strip("/")
    return (
        rf"{path}/{FILES_SEGMENT}/([0-9a-f]{{24}})",
        DownloadHandler,
        {"store": store, "lang": lang},
    )
