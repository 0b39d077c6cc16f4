"""`people forget` and evidence: the files the person alone attached go (rows and bytes); a
file someone else also attached stays, with every row, and so does everyone else's evidence.
The files are deleted only after the commit (`cadrebot people forget`)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from storage.db import Database
from storage.evidence import attach_evidence, blob_path, evidence_counts
from storage.forget import forget_person
from storage.migrate import upgrade
from storage.models import AuditLog, Evidence
from tests.cli_fixtures import ops_cli
from tests.report_fixtures import NOW, World, build_world
from tests.review_fixtures import session_report

ALONE = b"\xff\xd8\xff\xe0 the reporter's own photo of the minutes"
SHARED = b"%PDF-1.4 the district's model minutes, sent by two secretaries"
OTHERS = b"\x89PNG\r\n\x1a\n the colleague's sign-in sheet"


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


def _kept(folder: Path, data: bytes) -> bool:
    return blob_path(folder, hashlib.sha256(data).hexdigest()).is_file()


async def test_only_what_belongs_to_the_person_alone_goes(db: Database, tmp_path: Path) -> None:
    world = await build_world(db)
    folder = tmp_path / "evidence"
    cs1, cs2 = await _attach(db, folder, world)
    async with db.write() as session:
        result = await forget_person(session=session, person_id=world.reporter_id, now=NOW)
    assert result.evidence_removed == 1 and len(result.evidence_hashes) == 1
    assert _kept(folder, ALONE)  # until the caller deletes it after the commit
    async with db.read() as session:
        counts = await evidence_counts(session=session, report_ids=[cs1, cs2])
        kinds = set((await session.execute(select(Evidence.content_type))).scalars())
        [audit] = (
            await session.execute(select(AuditLog).where(AuditLog.action == "person.forget"))  # type: ignore[arg-type]
        ).scalars()
    assert counts == {cs1: 2, cs2: 1}  # the shared PDF and the colleague's sheet stay
    assert kinds == {"application/pdf", "image/png"}
    assert audit.new is not None and audit.new["evidence_removed"] == 1


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
