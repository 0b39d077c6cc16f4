"""Evidence storage (storage.evidence): by content hash in a folder, type read from the bytes,
size bounded, once per report and file, read back only inside the scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.access import scope_of
from storage.db import Database
from storage.evidence import (
    EvidenceRefused,
    attach_evidence,
    blob_path,
    evidence_counts,
    evidence_file,
)
from storage.models import ROLE_REPORTER, AuditLog, Evidence, Unit
from tests.factories import make_person, pk
from tests.report_fixtures import NOW, build_world
from tests.review_fixtures import session_report

JPEG = b"\xff\xd8\xff\xe0" + b"bien-ban-hoi-nghi" * 10
PDF = b"%PDF-1.4 chuong trinh hanh dong 05-CTr/DU"


async def test_attach_count_and_read_back_in_scope(db: Database, tmp_path: Path) -> None:
    world = await build_world(db)
    number = await session_report(db, world)
    folder = tmp_path / "evidence"
    async with db.write() as session:
        other = await session.get(Unit, world.other_unit_id)
        neighbour = pk(await make_person(session, "Bí thư CS2", roles=[(ROLE_REPORTER, other)]))
    async with db.write() as session:
        first = await attach_evidence(
            session=session, folder=folder, report_id=number, data=JPEG,
            person_id=world.reporter_id, channel="zalo", now=NOW,
        )  # fmt: skip
        again = await attach_evidence(
            session=session, folder=folder, report_id=number, data=JPEG,
            person_id=world.reporter_id, channel="telegram", now=NOW,
        )  # fmt: skip
        scan = await attach_evidence(
            session=session, folder=folder, report_id=number, data=PDF,
            person_id=world.reporter_id, channel="telegram", now=NOW,
        )  # fmt: skip
    assert first is not None and again is None and scan is not None
    assert first.content_type == "image/jpeg" and scan.content_type == "application/pdf"
    assert blob_path(folder, first.sha256).read_bytes() == JPEG
    async with db.read() as session:
        assert await evidence_counts(session=session, report_ids=[number]) == {number: 2}
        audits = (
            (await session.execute(select(AuditLog).where(AuditLog.action == "evidence.attach")))  # type: ignore[arg-type]
            .scalars()
            .all()
        )
        assert len(audits) == 2
        supervisor = await scope_of(session=session, person_id=world.supervisor_id)
        found = await evidence_file(
            session=session, folder=folder, scope=supervisor, evidence_id=first.id or 0
        )
        assert found is not None and found[1].read_bytes() == JPEG
        for stranger in (world.stranger_id, neighbour):
            scope = await scope_of(session=session, person_id=stranger)
            assert (
                await evidence_file(
                    session=session, folder=folder, scope=scope, evidence_id=first.id or 0
                )
                is None
            )


def _kept(folder: Path) -> bool:
    return folder.exists() and any(folder.rglob("*"))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "evidence.empty"),
        (b"GIF89a....", "evidence.bad_type"),
        (b"\xff\xd8\xff" + b"x" * 64, "evidence.too_large"),
    ],
)
async def test_bad_files_are_refused_and_nothing_is_kept(
    db: Database, tmp_path: Path, data: bytes, key: str
) -> None:
    world = await build_world(db)
    number = await session_report(db, world)
    async with db.write() as session:
        with pytest.raises(EvidenceRefused) as refused:
            await attach_evidence(
                session=session, folder=tmp_path / "evidence", report_id=number, data=data,
                person_id=world.reporter_id, channel="zalo", now=NOW, max_bytes=32,
            )  # fmt: skip
        assert refused.value.key == key
        assert (await session.execute(select(Evidence))).first() is None
    assert not _kept(tmp_path / "evidence")
