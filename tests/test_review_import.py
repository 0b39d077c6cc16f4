"""A paper-report import that would change an approved report is refused line by line and
writes nothing (the report stays locked until a reviewer reopens it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.access import scope_of
from storage.db import Database
from storage.models import Report, ReportVersion, Unit
from storage.report_import import ReportImportError
from storage.review import approve_report
from tests.factories import make_person, pk
from tests.review_fixtures import require_review
from tests.test_report_import import LATER, World, count, good_file, run_import, world

__all__ = ["world"]


async def test_an_approved_report_is_not_changed_by_an_import(
    db: Database, world: World, tmp_path: Path
) -> None:
    await run_import(db, world, good_file(tmp_path))
    await require_review(db, world.campaign_id)
    async with db.write() as session:
        report_id = (
            await session.execute(
                select(Report.id)  # type: ignore[call-overload]
                .join(Unit, col(Unit.id) == col(Report.unit_id))
                .where(col(Unit.code) == "H1")
            )
        ).scalar_one()
        # Whoever typed the paper report does not approve it: a second admin does.
        reviewer = await make_person(session, "Trần Thị Duyệt", roles=[("admin", None)])
        scope = await scope_of(session=session, person_id=pk(reviewer))
        await approve_report(
            session=session, scope=scope, report_id=report_id, channel="cli", now=LATER
        )
    versions = await count(db, ReportVersion)
    with pytest.raises(ReportImportError) as refused:
        await run_import(db, world, good_file(tmp_path, h1_essays=37), now=LATER)
    [message] = refused.value.messages()
    assert f"Báo cáo số {report_id} đã được duyệt nên không thể sửa" in message
    assert message.startswith("Dòng ")  # the line of the file, as for every bad row
    assert await count(db, ReportVersion) == versions
