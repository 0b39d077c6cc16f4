"""What the Zalo server keeps for a short while for Zalo or a user to fetch (the digest chart,
the /xuat workbook): rows of `kept_file` in the database (`storage.kept_files`), under
unguessable ids, each until its expiry on the injected clock. Every worker on the database
serves any link, whichever worker made it, also after a restart.

The links are signed (HMAC-SHA256) with `link_key(settings)`, the same in every worker:
derived from CADREBOT_LINK_SECRET when it is set, otherwise from the Zalo bot token (every
worker of a bot has it, it is already a secret, and whoever holds it controls the bot anyway).
A key of one process would refuse, on the other workers, the links it signed."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from storage.clock import Clock, system_clock
from storage.db import Database
from storage.kept_files import keep_file, kept_file
from storage.models import KeptFile
from storage.settings import Settings, shared_key

PURPOSE = b"cadrebot zalo links\0"


def link_key(settings: Settings) -> bytes:
    """The key of the Zalo links: from CADREBOT_LINK_SECRET, else from the Zalo bot token."""
    key = shared_key(PURPOSE, settings.link_secret, settings.zalo_token)
    if key is None:
        raise ValueError("CADREBOT_ZALO_TOKEN (or CADREBOT_LINK_SECRET) is not set")
    return key


@dataclass(frozen=True)
class Kept:
    """The database the files are kept in, the links' key and the clock of their expiries."""

    db: Database
    key: bytes
    clock: Clock = system_clock

    def sign(self, *parts: object) -> str:
        message = "\0".join(str(part) for part in parts).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:40]

    def signed(self, signature: str, *parts: object) -> bool:
        return hmac.compare_digest(self.sign(*parts).encode(), signature.encode())

    async def keep(
        self,
        data: bytes,
        *,
        content_type: str,
        ttl: timedelta,
        filename: str = "",
        person_id: int | None = None,
    ) -> KeptFile:
        async with self.db.write() as session:
            return await keep_file(
                session=session,
                data=data,
                content_type=content_type,
                now=self.clock(),
                ttl=ttl,
                filename=filename,
                person_id=person_id,
            )

    async def get(self, ident: str) -> KeptFile | None:
        """The file, unless it expired or never was."""
        async with self.db.read() as session:
            return await kept_file(session=session, ident=ident, now=self.clock())


class KeptLinks:
    """Files of `kept` linked under `public_base` (None: no links), each kept `ttl` seconds
    (default: the subclass's `TTL_SECONDS`)."""

    TTL_SECONDS = 15 * 60

    def __init__(self, public_base: str | None, kept: Kept, *, ttl: int | None = None) -> None:
        self.public_base = public_base.rstrip("/") if public_base else None
        self.kept = kept
        self.ttl = self.TTL_SECONDS if ttl is None else ttl

    @property
    def enabled(self) -> bool:
        return self.public_base is not None
