"""Evidence sent during the form: a photo of the minutes that arrives while the report is still
a draft is kept at once (checked and stored by hash, `storage.evidence.store_blob`) and held on
the draft (`DraftEvidence`); confirming the draft attaches what it holds to the report
(`adopt_held`); a cancelled draft takes its rows with it (the file stays in the folder
unreferenced, harmless). Functions never commit: the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.clock import require_aware
from storage.evidence import MAX_BYTES, Blob, insert_once, link_blob, store_blob
from storage.models import Draft, DraftEvidence


async def hold_evidence(
    *,
    session: AsyncSession,
    folder: Path,
    draft_id: int,
    data: bytes,
    person_id: int | None,
    channel: str,
    now: datetime,
    max_bytes: int = MAX_BYTES,
) -> tuple[bool, int]:
    """Keep `data` for the draft: whether it is held now (False: the draft already held it)
    and how many files the draft holds. Raises EvidenceRefused for a file that is not kept,
    LookupError if the draft is gone."""
    require_aware(now)
    if await session.get(Draft, draft_id) is None:
        raise LookupError(f"no draft {draft_id}")
    blob = store_blob(folder, data, max_bytes)
    held = await insert_once(
        session, DraftEvidence, "draft_id", draft_id, blob, person_id, channel, now
    )
    if held is not None:
        await session.execute(  # the confirm reads the held files only when there are some
            update(Draft)
            .where(col(Draft.id) == draft_id)
            .values(held_files=func.coalesce(col(Draft.held_files), 0) + 1)
            .execution_options(synchronize_session=False)
        )
    count = await session.execute(
        select(func.count())
        .select_from(DraftEvidence)
        .where(col(DraftEvidence.draft_id) == draft_id)
    )
    return held is not None, int(count.scalar_one())


async def held_evidence(*, session: AsyncSession, draft: Draft) -> list[DraftEvidence]:
    """What the draft holds, oldest first (read before the draft is confirmed and deleted);
    no statement when `held_files` says it holds nothing."""
    if not draft.held_files:
        return []
    draft_id = draft.id
    rows = await session.execute(
        select(DraftEvidence)
        .where(col(DraftEvidence.draft_id) == draft_id)
        .order_by(col(DraftEvidence.id))
    )
    return list(rows.scalars())


async def adopt_held(
    *, session: AsyncSession, held: list[DraftEvidence], report_id: int, now: datetime
) -> int:
    """Attach what a confirmed draft held to its report; how many files are new on it."""
    added = 0
    for row in held:
        linked = await link_blob(
            session=session,
            report_id=report_id,
            blob=Blob(row.sha256, row.content_type, row.size),
            person_id=row.created_by_person_id,
            channel=row.channel,
            now=now,
        )
        added += linked is not None
    return added
