"""Files kept for a short while for a chat link (table `kept_file`): the digest chart Zalo fetches
by URL, the /xuat workbook a Zalo user downloads. They live in the database, not in a process,
so with several workers behind a load balancer (or after a restart) the worker that serves a
link need not be the one that made it.

Each row has an unguessable id and an expiry; a row past its expiry is never returned and is
deleted by `prune_kept_files` (a few at a time by every `keep_file`, all of them by the daily
housekeeping). A file for anyone with the link (`person_id` None: a chart sent to many
supervisors) is kept once per content: keeping the same bytes again while a row is alive
returns that row, its expiry moved to the later one. Functions never commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.clock import require_aware
from storage.models import KeptFile
from storage.rows import add_row

PRUNE_ON_WRITE = 20  # expired rows a `keep_file` deletes on its way (bounded work per write)


async def keep_file(
    *,
    session: AsyncSession,
    data: bytes,
    content_type: str,
    now: datetime,
    ttl: timedelta,
    filename: str = "",
    person_id: int | None = None,
) -> KeptFile:
    """Keep `data` until `now` + `ttl` (whole seconds); the row (its id names it in links)."""
    require_aware(now)
    await prune_kept_files(session=session, now=now, limit=PRUNE_ON_WRITE)
    expires = (now + ttl).replace(microsecond=0)
    digest = hashlib.sha256(data).hexdigest()
    if person_id is None:
        shared = await session.execute(
            select(KeptFile)
            .where(
                col(KeptFile.sha256) == digest,
                col(KeptFile.person_id).is_(None),
                col(KeptFile.content_type) == content_type,
                col(KeptFile.filename) == filename,
                col(KeptFile.expires_at) > now,
            )
            .limit(1)
        )
        row = shared.scalar_one_or_none()
        if row is not None:
            row.expires_at = max(row.expires_at, expires)
            await session.flush()
            return row
    row = KeptFile(
        id=secrets.token_hex(12),
        person_id=person_id,
        filename=filename,
        content_type=content_type,
        sha256=digest,
        data=data,
        created_at=now,
        expires_at=expires,
    )
    return await add_row(session, row)


async def kept_file(*, session: AsyncSession, ident: str, now: datetime) -> KeptFile | None:
    """The row named `ident`, unless it expired (or never was)."""
    require_aware(now)
    found = await session.execute(
        select(KeptFile).where(col(KeptFile.id) == ident, col(KeptFile.expires_at) > now)
    )
    return found.scalar_one_or_none()


async def prune_kept_files(
    *, session: AsyncSession, now: datetime, limit: int | None = None
) -> int:
    """Delete the rows past their expiry (at most `limit` of them); how many went."""
    require_aware(now)
    expired = col(KeptFile.expires_at) <= now
    if limit is None:
        stmt: Any = delete(KeptFile).where(expired)
    else:
        oldest = select(col(KeptFile.id)).where(expired).limit(limit)
        stmt = delete(KeptFile).where(col(KeptFile.id).in_(oldest))
    result: Any = await session.execute(stmt.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
