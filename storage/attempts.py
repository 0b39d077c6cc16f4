"""Failed `/start <code>` attempts per chat account, kept in the audit log (so the limit
holds across restarts and webhook workers): after `LIMIT` failures within `WINDOW`, codes from
that account are not even looked at until the window has passed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.audit import AuditTrail
from storage.models import CHANNEL_TELEGRAM, AuditLog

LIMIT = 5
WINDOW = timedelta(hours=1)
ACTION = "invite.redeem_refused"
ENTITY = "telegram_account"  # Telegram's; every channel's is `entity_for(channel)`


def entity_for(channel: str) -> str:
    """The audit entity of a channel's accounts ("telegram_account", "zalo_account"): the id is
    the account's own external id, so `people forget` finds it with the person's accounts."""
    return f"{channel}_account"


async def recent_failures(
    *, session: AsyncSession, external_id: str, now: datetime, channel: str = CHANNEL_TELEGRAM
) -> int:
    query = select(func.count()).where(
        col(AuditLog.entity) == entity_for(channel),
        col(AuditLog.entity_id) == str(external_id),
        col(AuditLog.action) == ACTION,
        col(AuditLog.at) > now - WINDOW,
    )
    return int((await session.execute(query)).scalar_one())


async def throttled(
    *, session: AsyncSession, external_id: str, now: datetime, channel: str = CHANNEL_TELEGRAM
) -> bool:
    failures = await recent_failures(
        session=session, external_id=external_id, now=now, channel=channel
    )
    return failures >= LIMIT


async def record_failure(
    *,
    session: AsyncSession,
    external_id: str,
    status: str,
    now: datetime,
    channel: str = CHANNEL_TELEGRAM,
) -> None:
    """One refused code from this account (`channel`: where it was typed, for the audit log)."""
    trail = AuditTrail(now, channel, None, entity_for(channel))
    await trail.record(session, ACTION, str(external_id), new={"status": status})
