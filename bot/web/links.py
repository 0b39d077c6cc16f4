"""The link `/web` sends: what the chat layer calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.web_auth import issue_link

LOGIN_PATH = "/w/"


class WebConsoleOff(Exception):
    """CADREBOT_WEB_URL is not set: there is no web console to link to."""


async def create_web_link(
    *, session: AsyncSession, person_id: int, now: datetime, base_url: str | None
) -> str:
    """A one-time link into the web console for this person, valid 10 minutes (the caller owns
    the transaction). Raises WebConsoleOff without a public URL, and
    `storage.web_auth.TooManyLinks` past the per-person limit."""
    if not base_url:
        raise WebConsoleOff
    token = await issue_link(session=session, person_id=person_id, now=now)
    return f"{base_url.rstrip('/')}{LOGIN_PATH}{token}"
