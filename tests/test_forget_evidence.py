"""`people forget` and evidence: the files the person alone attached go (rows and bytes); a
file someone else also attached stays, with every row, and so does everyone else's evidence;
files held on a form in progress count too.
The files are deleted only after the commit (`cadrebot people forget`)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from storage.db import Database
from storage.drafts import start_draft
from storage.evidence import attach_evidence, blob_path, evidence_counts, remove_unreferenced
from storage.evidence_drafts import hold_evidence
from storage.forget import forget_person
from storage.migrate import upgrade
from storage.models import AuditLog, DraftEvidence, Evidence
from tests.cli_fixtures import ops_cli
from tests.factories import pk
from tests.report_fixtures import NOW, World, build_world
from tests.review_fixtures import session_report

ALONE = b"\xff\xd8\xff\xe0 the reporter's own photo of the minutes"
SHARED = b"%PDF-1.4 the district's model minutes, sent by two secretaries"
OTHERS = b"\x89PNG\r\n\x1a\n the colleague's sign-in sheet"
HELD = b"\xff\xd8\xff\xe0 a photo sent during her form, not yet confirmed"


async def _attach(db: Database, folder: Path, world: World) -> tuple[int, int]:
    cs1 = await session_report(db, world)
    cs2 = await session_report(db, world, unit_id=world.other_unit_id)
    async with db.write() as session:
        for report, data, person in (
            (cs1, ALONE, world.reporter_id),
            (cs1, SHARED, world.reporter_id),
            (cs2, SHARED, world.double_id),
            (cs1, OTHERS, world.colleague_id),
        ):
            await attach_evidence(
                session=session, folder=folder, report_id=report, data=data,
                person_id=person, channel="zalo", now=NOW,
            )  # fmt: skip
    return cs1, cs2


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kept(folder: Path, data: bytes) -> bool:
    return blob_path(folder, sha(data)).is_file()


async def _hold(db: Database, folder: Path, person_id: int, unit_id: int, data: bytes) -> None:
    async with db.write() as session:
        draft = await start_draft(
            session=session, person_id=person_id, unit_id=unit_id, channel="zalo", now=NOW,
            step="",
        )  # fmt: skip
        await hold_evidence(
            session=session, folder=folder, draft_id=pk(draft), data=data, person_id=person_id,
            channel="zalo", now=NOW,
        )  # fmt: skip


async def test_only_what_belongs_to_the_person_alone_goes(db: Database, tmp_path: Path) -> None:
    world = await build_world(db)
    folder = tmp_path / "evidence"
    cs1, cs2 = await _attach(db, folder, world)
    await _hold(db, folder, world.reporter_id, world.unit_id, HELD)  # her form in progress
    await _hold(db, folder, world.colleague_id, world.unit_id, OTHERS)  # his: shares a file
    async with db.write() as session:
        result = await forget_person(session=session, person_id=world.reporter_id, now=NOW)
    assert result.evidence_removed == 2 and len(result.evidence_hashes) == 2  # ALONE and HELD
    assert _kept(folder, ALONE) and _kept(folder, HELD)  # until deleted after the commit
    async with db.read() as session:
        gone = await remove_unreferenced(
            session=session, folder=folder, hashes=[*result.evidence_hashes, sha(OTHERS)]
        )
        held = (await session.execute(select(DraftEvidence.sha256))).scalars().all()
    assert gone == 2 and not _kept(folder, ALONE) and not _kept(folder, HELD)
    assert _kept(folder, OTHERS) and held == [sha(OTHERS)]  # still his
    async with db.read() as session:
        counts = await evidence_counts(session=session, report_ids=[cs1, cs2])
        kinds = set((await session.execute(select(Evidence.content_type))).scalars())
        [audit] = (
            await session.execute(select(AuditLog).where(AuditLog.action == "person.forget"))  # type: ignore[arg-type]
        ).scalars()
    assert counts == {cs1: 2, cs2: 1}  # the shared PDF and the colleague's sheet stay
    assert kinds == {"application/pdf", "image/png"}
    assert audit.new is not None and audit.new["evidence_removed"] == 2


async def test_cli_people_forget_deletes_the_files_after_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "cadrebot.db"
    folder = tmp_path / "evidence"
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db.engine)
        world = await build_world(db)
        await _attach(db, folder, world)
    finally:
        await db.dispose()
    app = ops_cli()
    env = {
        "CADREBOT_DATABASE_URL": f"sqlite:///{path}",
        "CADREBOT_EVIDENCE_DIR": str(folder),
        "COLUMNS": "300",
    }
    done = await asyncio.to_thread(
        CliRunner(env=env).invoke, app, ["people", "forget", str(world.reporter_id)]
    )
    assert done.exit_code == 0, done.output
    assert "Đã xóa 1 tệp minh chứng chỉ do người này gửi." in done.output
    assert not _kept(folder, ALONE)
    assert _kept(folder, SHARED) and _kept(folder, OTHERS)
