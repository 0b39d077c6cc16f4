"""Getting into the web console: one-time links, browser sessions, refused attempts.

- A link (`/web` in chat) carries a random token of 256 bits; only its SHA-256 is stored, bound
  to one person. It opens once, within `LINK_TTL` (10 minutes), and only for that person: a
  reused, expired, unknown (forged) or removed person's link is refused, and says why.
- Opening a link (or a validated Telegram Mini App `initData`) starts a session: a second random
  token, kept in the browser's cookie, its hash here; it expires after `SESSION_TTL`.
- A person may ask for at most `LINKS_PER_WINDOW` links per `LINK_WINDOW`; a client (address)
  that fails `FAILURES_PER_WINDOW` logins within `FAILURE_WINDOW` is refused until the window has
  passed. Both counts live in the database, so they hold across restarts and workers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.audit import AuditTrail
from storage.clock import require_aware
from storage.models import CHANNEL_WEB, AuditLog, Person, WebLink, WebSession
from storage.rows import add_row

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=8)
LINKS_PER_WINDOW = 5
LINK_WINDOW = timedelta(minutes=10)
FAILURES_PER_WINDOW = 10
FAILURE_WINDOW = timedelta(minutes=15)
FAILURE_ACTION = "web.login_refused"
FAILURE_ENTITY = "web_client"
VIA_LINK = "link"
VIA_MINIAPP = "miniapp"


class LinkStatus(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such token: forged, mistyped or cut
    EXPIRED = "expired"
    USED = "used"
    GONE = "gone"  # the person was removed


@dataclass(frozen=True)
class LinkOutcome:
    status: LinkStatus
    person_id: int | None = None


class TooManyLinks(Exception):
    """The person asked for more than LINKS_PER_WINDOW links within LINK_WINDOW."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from its secret token, so it needs no storage and a
    page from another site cannot know it."""
    return hmac.new(session_token.encode(), b"cadrebot-web-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token), str(submitted))


async def _issue(session: AsyncSession, row: Callable[[str], WebLink | WebSession]) -> str:
    """Store `row(hash)` for the hash of a new token; returns the token (never stored)."""
    token = new_token()
    await add_row(session, row(hash_token(token)))
    return token


async def issue_link(*, session: AsyncSession, person_id: int, now: datetime) -> str:
    """A new one-time token for `person_id` (the caller builds the URL). Raises TooManyLinks."""
    require_aware(now)
    recent = (
        await session.execute(
            select(func.count()).where(
                col(WebLink.person_id) == person_id, col(WebLink.created_at) > now - LINK_WINDOW
            )
        )
    ).scalar_one()
    if recent >= LINKS_PER_WINDOW:
        raise TooManyLinks(person_id)
    return await _issue(
        session,
        lambda digest: WebLink(
            token_hash=digest, person_id=person_id, created_at=now, expires_at=now + LINK_TTL
        ),
    )


async def redeem_link(*, session: AsyncSession, token: str, now: datetime) -> LinkOutcome:
    """Use the link once: OK with its person, or why not (nothing changes then)."""
    require_aware(now)
    link = (
        await session.execute(
            select(WebLink).where(col(WebLink.token_hash) == hash_token(token)).with_for_update()
        )
    ).scalar_one_or_none()
    if link is None:
        return LinkOutcome(LinkStatus.UNKNOWN)
    if link.used_at is not None:
        return LinkOutcome(LinkStatus.USED, link.person_id)
    if now >= link.expires_at:
        return LinkOutcome(LinkStatus.EXPIRED, link.person_id)
    person = await session.get(Person, link.person_id)
    if person is None or person.forgotten_at is not None:
        return LinkOutcome(LinkStatus.GONE, link.person_id)
    # Conditional update: of two browsers opening the same link at once, one wins.
    won = await session.execute(
        update(WebLink)
        .where(col(WebLink.id) == link.id, col(WebLink.used_at).is_(None))
        .values(used_at=now)
    )
    if getattr(won, "rowcount", 1) != 1:
        return LinkOutcome(LinkStatus.USED, link.person_id)
    return LinkOutcome(LinkStatus.OK, link.person_id)


async def start_session(*, session: AsyncSession, person_id: int, now: datetime, via: str) -> str:
    """A new browser session for the person; returns the token for the cookie."""
    require_aware(now)
    token = await _issue(
        session,
        lambda digest: WebSession(
            token_hash=digest,
            person_id=person_id,
            via=via,
            created_at=now,
            expires_at=now + SESSION_TTL,
        ),
    )
    trail = AuditTrail(now, CHANNEL_WEB, person_id, "person")
    await trail.record(session, "web.login", person_id, new={"via": via})
    return token


async def session_person(*, session: AsyncSession, token: str, now: datetime) -> int | None:
    """The person signed in with this session token, or None (unknown, expired, ended, or the
    person was removed)."""
    require_aware(now)
    row = (
        await session.execute(
            select(col(WebSession.person_id))
            .join(Person, col(Person.id) == col(WebSession.person_id))
            .where(
                col(WebSession.token_hash) == hash_token(token),
                col(WebSession.ended_at).is_(None),
                col(WebSession.expires_at) > now,
                col(Person.forgotten_at).is_(None),
            )
        )
    ).scalar_one_or_none()
    return int(row) if row is not None else None


async def end_session(*, session: AsyncSession, token: str, now: datetime) -> None:
    await session.execute(
        update(WebSession)
        .where(col(WebSession.token_hash) == hash_token(token), col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )


async def login_throttled(*, session: AsyncSession, client: str, now: datetime) -> bool:
    """Whether this client has failed FAILURES_PER_WINDOW logins within FAILURE_WINDOW."""
    count = (
        await session.execute(
            select(func.count()).where(
                col(AuditLog.entity) == FAILURE_ENTITY,
                col(AuditLog.entity_id) == client[:64],
                col(AuditLog.action) == FAILURE_ACTION,
                col(AuditLog.at) > now - FAILURE_WINDOW,
            )
        )
    ).scalar_one()
    return int(count) >= FAILURES_PER_WINDOW


async def record_login_failure(
    *, session: AsyncSession, client: str, reason: str, now: datetime
) -> None:
    trail = AuditTrail(now, CHANNEL_WEB, None, FAILURE_ENTITY)
    await trail.record(session, FAILURE_ACTION, client[:64], new={"reason": reason})
