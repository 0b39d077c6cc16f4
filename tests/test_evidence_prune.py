"""Evidence files no row names (a draft cancelled, a transaction rolled back) are deleted by the
daily housekeeping once they were last stored more than a day ago; files on a report or held on
a draft stay, so does an orphan stored again since, and one younger than a day."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

from bot.runtime import prune_files_job
from storage.db import Database
from storage.drafts import start_draft
from storage.evidence import attach_evidence, blob_path, prune_unreferenced, store_blob
from storage.evidence_drafts import hold_evidence
from storage.models import Draft
from tests.factories import pk
from tests.report_fixtures import NOW, build_world
from tests.review_fixtures import session_report

ON_REPORT = b"\xff\xd8\xff\xe0 the minutes, on the confirmed report"
HELD = b"\x89PNG\r\n\x1a\n a sign-in sheet held on the form in progress"
CANCELLED = b"\xff\xd8\xff\xe0 a photo sent during a form that was cancelled"
ROLLED_BACK = b"%PDF-1.4 stored, then its transaction rolled back"
SENT_AGAIN = b"%PDF-1.4 an orphan sent again today"
YOUNG = b"\x89PNG\r\n\x1a\n an orphan stored an hour ago"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def age(folder: Path, data: bytes, by: timedelta) -> Path:
    """The file of `data`, its time set to `by` before NOW (the day it was stored)."""
    path = blob_path(folder, sha(data))
    moment = (NOW - by).timestamp()
    os.utime(path, (moment, moment))
    return path


async def test_unreferenced_evidence_files_go_a_day_after_they_were_stored(
    db: Database, tmp_path: Path
) -> None:
    world = await build_world(db)
    folder = tmp_path / "evidence"
    report = await session_report(db, world)
    async with db.write() as session:
        await attach_evidence(
            session=session, folder=folder, report_id=report, data=ON_REPORT,
            person_id=world.reporter_id, channel="zalo", now=NOW,
        )  # fmt: skip
    for data, person_id, unit_id in (
        (HELD, world.reporter_id, world.unit_id),
        (CANCELLED, world.colleague_id, world.unit_id),
    ):
        async with db.write() as session:
            draft = await start_draft(
                session=session, person_id=person_id, unit_id=unit_id, channel="zalo",
                now=NOW, step="",
            )  # fmt: skip
            await hold_evidence(
                session=session, folder=folder, draft_id=pk(draft), data=data,
                person_id=person_id, channel="zalo", now=NOW,
            )  # fmt: skip
    async with db.write() as session:  # the colleague cancels his form: its file has no row
        cancelled = await session.get(Draft, pk(draft))
        await session.delete(cancelled)
    for data in (ROLLED_BACK, SENT_AGAIN, YOUNG):
        store_blob(folder, data)  # as in a transaction that then rolled back
    old = {d: age(folder, d, timedelta(days=2)) for d in (ON_REPORT, HELD, CANCELLED, ROLLED_BACK)}
    age(folder, SENT_AGAIN, timedelta(days=2))
    store_blob(folder, SENT_AGAIN)  # sent again in a new form: fresh, kept for that form
    age(folder, YOUNG, timedelta(hours=1))
    partial = blob_path(folder, sha(YOUNG)).with_name(".part-x1y2z3")
    partial.write_bytes(b"half a file of a write a crash cut")
    os.utime(partial, ((NOW - timedelta(days=3)).timestamp(),) * 2)

    assert await prune_files_job(db, lambda: NOW, evidence=folder) == 3  # two orphans, a partial
    assert not old[CANCELLED].exists() and not old[ROLLED_BACK].exists()
    assert not partial.exists()
    for data in (ON_REPORT, HELD, SENT_AGAIN, YOUNG):
        assert blob_path(folder, sha(data)).is_file()
    async with db.read() as session:  # a second pass finds nothing more
        assert await prune_unreferenced(session=session, folder=folder, now=NOW) == 0
        later = NOW + timedelta(days=1)  # the young orphan, a day older
        assert await prune_unreferenced(session=session, folder=folder, now=later) == 1
    assert not blob_path(folder, sha(YOUNG)).exists()


async def test_no_evidence_folder_yet_is_nothing_to_prune(db: Database, tmp_path: Path) -> None:
    async with db.read() as session:
        assert await prune_unreferenced(session=session, folder=tmp_path / "none", now=NOW) == 0
