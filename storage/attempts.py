"""Failed `/start <code>` attempts per chat account, kept in the audit log (so the limit
holds across restarts and webhook workers): after `LIMIT` failures within `WINDOW`, codes from
that account are not even looked at until the window has passed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.audit import record
from storage.models import CHANNEL_TELEGRAM, AuditLog

LIMIT = 5
WINDOW = timedelta(hours=1)
ACTION = "invite.redeem_refused"
ENTITY = "telegram_account"


async def recent_failures(*, session: AsyncSession, external_id: str, now: datetime) -> int:
    query = select(func.count()).where(
        col(AuditLog.entity) == ENTITY,
        col(AuditLog.entity_id) == str(external_id),
        col(AuditLog.action) == ACTION,
        col(AuditLog.at) > now - WINDOW,
    )
    return int((await session.execute(query)).scalar_one())


async def throttled(*, session: AsyncSession, external_id: str, now: datetime) -> bool:
    return await recent_failures(session=session, external_id=external_id, now=now) >= LIMIT


async def record_failure(
    *,
    session: AsyncSession,
    external_id: str,
    status: str,
    now: datetime,
    channel: str = CHANNEL_TELEGRAM,
) -> None:
    """One refused code from this account (`channel`: where it was typed, for the audit log)."""
    await record(
        session=session,
        now=now,
        channel=channel,
        action=ACTION,
        entity=ENTITY,
        entity_id=str(external_id),
        new={"status": status},
    )
