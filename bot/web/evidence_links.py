"""Signed, short-lived links to one evidence file, for a chat (/donvi), served by the web
console (`bot.web.evidence`):

    <CADREBOT_WEB_URL>/evidence/<id>?p=<person id>&e=<expiry, unix time>&s=<signature>

The signature is an HMAC-SHA256 of id, person and expiry under a key every worker shares
(`storage.settings.shared_key`: from CADREBOT_LINK_SECRET, else from the Telegram, else the Zalo
bot token), so the console of any worker opens a link the bot of any other worker signed. A
link is bound to one file and one person until its expiry; a changed id, person or expiry, or a
forged signature, is refused. A valid link is not enough: the server
checks again, when it is opened, that the person's scope (as the database says then) sees the
report's unit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import Enum

from storage.settings import Settings, shared_key

LINK_TTL = timedelta(minutes=30)
PATH = "/evidence"
PURPOSE = b"cadrebot evidence links\0"
# Only without any secret or bot token, when no bot runs to sign a link at all.
_PROCESS_KEY = secrets.token_bytes(32)


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"
    REFUSED = "refused"


def _key(settings: Settings) -> bytes:
    key = shared_key(PURPOSE, settings.link_secret, settings.telegram_token, settings.zalo_token)
    return _PROCESS_KEY if key is None else key


def _sign(settings: Settings, evidence_id: int, person_id: int, expires: int) -> str:
    message = f"{evidence_id}.{person_id}.{expires}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()[:40]


def evidence_url(settings: Settings, evidence_id: int, *, person_id: int, now: datetime) -> str:
    """The link `person_id` may open until `now` + LINK_TTL (needs CADREBOT_WEB_URL)."""
    assert settings.web_url is not None
    expires = int((now + LINK_TTL).timestamp())
    signature = _sign(settings, evidence_id, person_id, expires)
    return f"{settings.web_url}{PATH}/{evidence_id}?p={person_id}&e={expires}&s={signature}"


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 12


def check_link(
    settings: Settings,
    *,
    evidence_id: int,
    person: str,
    expires: str,
    signature: str,
    now: datetime,
) -> tuple[Verdict, int | None]:
    """Whether the link's parameters are the ones signed, and not expired: the person's id."""
    if not all(_digits(v) for v in (person, expires)):
        return Verdict.REFUSED, None
    expected = _sign(settings, evidence_id, int(person), int(expires))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return Verdict.REFUSED, None
    if int(expires) <= now.timestamp():
        return Verdict.EXPIRED, None
    return Verdict.OK, int(person)
