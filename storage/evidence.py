"""Evidence on reports (minh chứng): photos of the minutes and the sign-in sheet, the scan of the
action programme. The bytes are stored once by content hash (SHA-256) in a folder the caller
names (a setting); an `Evidence` row ties them to a report. The type is read from the bytes
themselves (JPEG, PNG, PDF), never from what the sender claims; the size is bounded. A file is
read back only through `evidence_file`, with the same scope rule as the unit's figures.

Functions never commit: the caller owns the transaction. A stored blob whose transaction rolls
back (or whose draft was cancelled) stays in the folder unreferenced until the daily
housekeeping of `cadrebot run` deletes it, a day later (`prune_unreferenced`)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import audit
from storage.access import Scope
from storage.clock import require_aware
from storage.models import DraftEvidence, Evidence, Report, Unit
from storage.rows import insert_new

MAX_BYTES = 10 * 1024 * 1024
ORPHAN_AGE = timedelta(days=1)  # an unreferenced file last stored longer ago than this goes
PRUNE_BATCH = 500  # hashes looked up per query by `prune_unreferenced`
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
KINDS = frozenset(kind for _magic, kind in SIGNATURES)


class EvidenceRefused(ValueError):
    """A file that is not kept; `key` is the catalog sentence that says why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def sniff(data: bytes) -> str | None:
    """The content type the bytes show (None: not a kind of file evidence may be)."""
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


def blob_path(folder: Path, sha256: str) -> Path:
    return folder / sha256[:2] / sha256


def _write_blob(folder: Path, sha256: str, data: bytes) -> None:
    path = blob_path(folder, sha256)
    try:
        os.utime(path)  # stored again: a fresh time, so the daily prune leaves it alone
        return
    except FileNotFoundError:
        pass
    except OSError:  # there, but its time cannot be changed (not writable): as before
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)  # a reader never sees half a file
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Blob:
    """A file kept in the folder: what an evidence row says about it."""

    sha256: str
    content_type: str
    size: int


def store_blob(folder: Path, data: bytes, max_bytes: int = MAX_BYTES) -> Blob:
    """Check `data` and keep it in the folder by its hash. Raises EvidenceRefused for an empty,
    too large or unknown kind of file (nothing stored)."""
    if not data:
        raise EvidenceRefused("evidence.empty")
    if len(data) > max_bytes:
        raise EvidenceRefused("evidence.too_large", limit=max_bytes // (1024 * 1024))
    kind = sniff(data)
    if kind is None:
        raise EvidenceRefused("evidence.bad_type")
    sha256 = hashlib.sha256(data).hexdigest()
    _write_blob(folder, sha256, data)
    return Blob(sha256, kind, len(data))


async def insert_once(
    session: AsyncSession,
    model: Any,
    owner: str,
    owner_id: int,
    blob: Blob,
    person_id: int | None,
    channel: str,
    now: datetime,
) -> int | None:
    """A row naming `blob` for its owner (`report_id` / `draft_id`): its id, or None when the
    owner already has that file (one row per owner and file)."""
    values = {
        owner: owner_id,
        "sha256": blob.sha256,
        "content_type": blob.content_type,
        "size": blob.size,
        "created_at": now,
        "created_by_person_id": person_id,
        "channel": channel,
    }
    found: int | None = await insert_new(
        session, model, values, unique=[owner, "sha256"], returning=col(model.id)
    )
    return found


async def link_blob(
    *,
    session: AsyncSession,
    report_id: int,
    blob: Blob,
    person_id: int | None,
    channel: str,
    now: datetime,
) -> Evidence | None:
    """The evidence row tying a kept file to the report (None: already attached to it).
    Audited "evidence.attach"."""
    require_aware(now)
    if await session.get(Report, report_id) is None:
        raise LookupError(f"no report {report_id}")
    new_id = await insert_once(
        session, Evidence, "report_id", report_id, blob, person_id, channel, now
    )
    if new_id is None:
        return None
    attached = {
        "evidence": new_id,
        "sha256": blob.sha256,
        "type": blob.content_type,
        "size": blob.size,
    }
    trail = audit.AuditTrail(now, channel, person_id, "report")
    await trail.record(session, "evidence.attach", report_id, new=attached)
    return await session.get(Evidence, new_id)


async def attach_evidence(
    *,
    session: AsyncSession,
    folder: Path,
    report_id: int,
    data: bytes,
    person_id: int | None,
    channel: str,
    now: datetime,
    max_bytes: int = MAX_BYTES,
) -> Evidence | None:
    """Keep `data` as evidence of the report. None when the same file is already attached to
    it (a replayed update, a photo sent twice). Raises EvidenceRefused for an empty, too large
    or unknown kind of file (nothing stored). Audited "evidence.attach"."""
    require_aware(now)
    if await session.get(Report, report_id) is None:
        raise LookupError(f"no report {report_id}")
    blob = store_blob(folder, data, max_bytes)
    return await link_blob(
        session=session,
        report_id=report_id,
        blob=blob,
        person_id=person_id,
        channel=channel,
        now=now,
    )


async def evidence_file(
    *, session: AsyncSession, folder: Path, scope: Scope, evidence_id: int
) -> tuple[Evidence, Path] | None:
    """The evidence row and its file, if `scope` sees the report's unit; None otherwise, the
    same as for evidence that does not exist."""
    row = (
        await session.execute(
            select(Evidence, Unit)
            .join(Report, col(Report.id) == col(Evidence.report_id))
            .join(Unit, col(Unit.id) == col(Report.unit_id))
            .where(col(Evidence.id) == evidence_id)
        )
    ).first()
    if row is None or not scope.sees(row[1]):
        return None
    path = blob_path(folder, row[0].sha256)
    return (row[0], path) if path.is_file() else None


async def evidence_counts(
    *,
    session: AsyncSession,
    report_ids: list[int] | None = None,
    deliverable_ids: list[int] | None = None,
    as_of: datetime | None = None,
) -> dict[int, int]:
    """How many files each report carries: the reports `report_ids`, or every report of
    `deliverable_ids` (the workbook); with `as_of`, the files received by then. Reports
    without any are left out."""
    if not report_ids and not deliverable_ids:
        return {}
    stmt = select(col(Evidence.report_id), func.count())
    if report_ids is not None:
        stmt = stmt.where(col(Evidence.report_id).in_(report_ids))
    if deliverable_ids is not None:
        stmt = stmt.join(Report, col(Report.id) == col(Evidence.report_id)).where(
            col(Report.deliverable_id).in_(deliverable_ids)
        )
    if as_of is not None:
        stmt = stmt.where(col(Evidence.created_at) <= require_aware(as_of))
    rows = await session.execute(stmt.group_by(col(Evidence.report_id)))
    return {int(rid): int(n) for rid, n in rows.all()}


async def evidence_of(*, session: AsyncSession, report_ids: list[int]) -> dict[int, list[Evidence]]:
    """Each report's files, oldest first (reports without any are left out). The caller has
    checked that the reports' units are in the viewer's scope."""
    if not report_ids:
        return {}
    rows = await session.execute(
        select(Evidence)
        .where(col(Evidence.report_id).in_(report_ids))
        .order_by(col(Evidence.report_id), col(Evidence.id))
    )
    found: dict[int, list[Evidence]] = {}
    for row in rows.scalars():
        found.setdefault(row.report_id, []).append(row)
    return found


ROWS = (Evidence, DraftEvidence)  # every row that names a kept file: on a report, or held


async def _hashes(session: AsyncSession, *where: Callable[[Any], Any]) -> set[str]:
    found: set[str] = set()
    for model in ROWS:
        stmt = select(col(model.sha256)).where(*(w(model) for w in where))
        found |= set((await session.execute(stmt)).scalars())
    return found


async def forget_evidence(*, session: AsyncSession, person_id: int) -> tuple[int, list[str]]:
    """`people forget`: remove the evidence rows the person attached (or has held on a draft)
    whose file nobody else attached: those files belong to them alone. A file someone else also
    attached stays, with every row. Returns the rows removed and the hashes of their files, for
    `remove_unreferenced` after the commit (a rollback must not lose a file still referenced)."""

    def theirs(model: Any) -> Any:
        return col(model.created_by_person_id) == person_id

    def others(model: Any) -> Any:
        who = col(model.created_by_person_id)
        return or_(who.is_(None), who != person_id)

    hashes = await _hashes(session, theirs)
    shared = await _hashes(session, others, lambda m: col(m.sha256).in_(sorted(hashes)))
    alone = sorted(hashes - shared)
    removed = 0
    for model in ROWS if alone else ():
        result: Any = await session.execute(
            delete(model)
            .where(theirs(model), col(model.sha256).in_(alone))
            .execution_options(synchronize_session=False)
        )
        removed += int(result.rowcount or 0)
    return removed, alone


async def remove_unreferenced(*, session: AsyncSession, folder: Path, hashes: list[str]) -> int:
    """Delete the files of `hashes` that no evidence row references (any more); how many went."""
    if not hashes:
        return 0
    kept = await _hashes(session, lambda m: col(m.sha256).in_(hashes))
    removed = 0
    for sha256 in sorted(set(hashes) - kept):
        path = blob_path(folder, sha256)
        if path.is_file():
            path.unlink()
            removed += 1
    return removed


async def prune_unreferenced(
    *, session: AsyncSession, folder: Path, now: datetime, older_than: timedelta = ORPHAN_AGE
) -> int:
    """Delete the files of the folder that no evidence row names and that were last stored
    before `now` - `older_than` (a draft cancelled, a transaction rolled back), and partial
    writes as old; how many went. A file stored again meanwhile is kept (see `_discard`)."""
    cutoff = (require_aware(now) - older_than).timestamp()
    removed, blobs = await asyncio.to_thread(_old_files, folder, cutoff)
    names = sorted(blobs)
    for start in range(0, len(names), PRUNE_BATCH):
        chunk = names[start : start + PRUNE_BATCH]
        named = await _hashes(session, _among(chunk))
        removed += sum(_discard(blobs[name], cutoff) for name in chunk if name not in named)
    return removed


def _among(hashes: list[str]) -> Callable[[Any], Any]:
    return lambda model: col(model.sha256).in_(hashes)


def _old_files(folder: Path, cutoff: float) -> tuple[int, dict[str, Path]]:
    """The files last written before `cutoff`, by name, after deleting the partial ones among
    them (and how many those were)."""
    old = [p for p in folder.glob("??/*") if p.is_file() and p.stat().st_mtime < cutoff]
    partial = [p for p in old if p.name.startswith(".part-")]
    for path in partial:
        path.unlink(missing_ok=True)
    return len(partial), {p.name: p for p in old if not p.name.startswith(".")}


def _discard(path: Path, cutoff: float) -> bool:
    """Delete an unreferenced file unless it is being stored again: it is moved aside first (a
    store after that writes it anew), and put back if a store touched it before the move."""
    aside = path.with_name(f".part-prune-{path.name}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return False
    if aside.stat().st_mtime >= cutoff:
        os.replace(aside, path)
        return False
    aside.unlink()
    return True
