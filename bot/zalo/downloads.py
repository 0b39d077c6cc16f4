"""Files for Zalo users (the /xuat workbook): the Zalo Bot API cannot upload files, so the bot
keeps the file here for a short while and sends a download link served by its own HTTP server
(`bot.zalo.webhook.ZaloServer`, the server that serves the digest chart):

    <public origin><path>/files/<id>?p=<person id>&e=<expiry, unix time>&s=<signature>

The signature is an HMAC-SHA256 of id, person and expiry under a key of this process, so a link
is bound to one file and one person: a link with another file's id, another person, a later
expiry or a forged signature is refused, and so is any link after its expiry (a Vietnamese page
says why, in the person's language). Files live in this process only, like the charts: the
process that sends the link serves it."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

import tornado.web

from bot.zalo.kept import Kept
from storage.clock import Clock, system_clock
from storage.i18n import DEFAULT_LANGUAGE, t

FILES_SEGMENT = "files"
TTL_SECONDS = 30 * 60
MAX_FILES = 50


@dataclass(frozen=True)
class StoredFile:
    data: bytes
    filename: str
    content_type: str
    person_id: int
    expires: int
    lang: str


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"
    REFUSED = "refused"


class DownloadStore:
    def __init__(
        self,
        public_base: str | None,
        *,
        ttl: int = TTL_SECONDS,
        key: bytes | None = None,
        clock: Clock = system_clock,
    ) -> None:
        """`public_base`: the public URL prefix of the server's path (None: no links);
        `clock`: the injected clock of the process (expiries are unix times from it)."""
        self.public_base = public_base.rstrip("/") if public_base else None
        self.ttl = ttl
        self.key = key or secrets.token_bytes(32)
        self.clock = clock
        self._files: Kept[StoredFile] = Kept(MAX_FILES, self._now)

    @property
    def enabled(self) -> bool:
        return self.public_base is not None

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _sign(self, ident: str, person_id: int, expires: int) -> str:
        message = f"{ident}.{person_id}.{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:40]

    def publish(
        self, data: bytes, *, filename: str, person_id: int, content_type: str, lang: str
    ) -> str:
        """Keep the file and return the link only `person_id` may use, until the expiry."""
        if self.public_base is None:
            raise RuntimeError("no public URL for Zalo downloads")
        expires = self._now() + self.ttl
        ident = self._files.add(StoredFile(data, filename, content_type, person_id, expires, lang))
        signature = self._sign(ident, person_id, expires)
        return f"{self.public_base}/{FILES_SEGMENT}/{ident}?p={person_id}&e={expires}&s={signature}"

    def check(
        self, ident: str, person: str, expires: str, signature: str
    ) -> tuple[Verdict, StoredFile | None]:
        if not (person.isdigit() and expires.isdigit()):
            return Verdict.REFUSED, None
        expected = self._sign(ident, int(person), int(expires))
        if not hmac.compare_digest(expected, signature):
            return Verdict.REFUSED, None
        if int(expires) <= self._now():
            return Verdict.EXPIRED, None
        found = self._files.get(ident)
        if found is None or found.person_id != int(person) or found.expires != int(expires):
            return Verdict.EXPIRED if found is None else Verdict.REFUSED, None
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

    def get(self, ident: str) -> None:
        verdict, found = self.store.check(
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
