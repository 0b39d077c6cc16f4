"""Reports: created once per unit and deliverable, every change a new version (the old kept),
audited; what a unit owes in the open campaigns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from storage import drafts
from storage.db import Database
from storage.models import AuditLog, Campaign, Draft, Report, ReportVersion, Unit
from storage.reports import (
    DraftGone,
    confirm_report,
    owed_deliverables,
    report_history,
    save_report,
    unit_deliverables,
    unit_reports,
    update_report,
)
from tests.factories import pk
from tests.report_fixtures import NOW, World, build_world

SESSION = {
    "session_date": date(2016, 9, 28),
    "duration_halfdays": 2,
    "members": 30,
    "attended": 25,
    "nonmembers_attended": None,
    "presenter": "Đ/c Trần Văn B",
    "essays": 20,
}


async def _audit(db: Database, action: str) -> list[AuditLog]:
    async with db.read() as session:
        query = select(AuditLog).where(col(AuditLog.action) == action).order_by(col(AuditLog.id))
        return list((await session.execute(query)).scalars())


async def _save(world: World, answers: dict[str, object], *, person: int | None = None) -> int:
    async with world.db.write() as session:
        report = await save_report(
            session=session,
            unit_id=world.unit_id,
            deliverable_id=world.deliverables["hoi_nghi"],
            answers=answers,
            person_id=person or world.reporter_id,
            channel="telegram",
            now=NOW,
        )
        return pk(report)


async def test_save_report_creates_version_one_with_typed_measures(db: Database) -> None:
    world = await build_world(db)
    report_id = await _save(world, SESSION)
    async with db.read() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        assert report.current_version == 1
        assert report.first_confirmed_at == NOW
        assert report.campaign_id == world.campaign_id
        (version,) = await report_history(session=session, report_id=report_id)
    assert version.version == 1 and version.is_current
    assert version.created_by_person_id == world.reporter_id and version.channel == "telegram"
    assert version.session_date == date(2016, 9, 28)
    assert (version.members, version.attended, version.essays) == (30, 25, 20)
    assert version.duration_halfdays == 2
    assert version.nonmembers_attended is None
    assert version.action_program is None  # not a measure of this deliverable
    assert version.answers["session_date"] == "2016-09-28"
    assert version.answers["presenter"] == "Đ/c Trần Văn B"
    (row,) = await _audit(db, "report.confirm")
    assert row.entity == "report" and row.entity_id == str(report_id)
    assert row.channel == "telegram" and row.actor_person_id == world.reporter_id
    assert row.new is not None and row.new["answers"]["essays"] == 20


async def test_a_second_report_for_the_same_unit_becomes_a_new_version(db: Database) -> None:
    world = await build_world(db)
    first = await _save(world, SESSION)
    second = await _save(world, {**SESSION, "essays": 22}, person=world.colleague_id)
    assert first == second
    async with db.read() as session:
        history = await report_history(session=session, report_id=first)
        count = (await session.execute(select(func.count()).select_from(Report))).scalar_one()
    assert count == 1
    assert [(v.version, v.is_current, v.essays) for v in history] == [
        (1, False, 20),
        (2, True, 22),
    ]
    assert history[1].created_by_person_id == world.colleague_id


async def test_update_report_keeps_the_old_version_and_audits_old_to_new(db: Database) -> None:
    world = await build_world(db)
    report_id = await _save(world, SESSION)
    later = NOW + timedelta(days=3)
    async with db.write() as session:
        version = await update_report(
            session=session,
            report_id=report_id,
            answers={**SESSION, "essays": 24},
            person_id=world.colleague_id,
            channel="zalo",
            now=later,
        )
    assert version.version == 2 and version.essays == 24 and version.attended == 25
    async with db.read() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        assert report.current_version == 2 and report.updated_at == later
        assert report.first_confirmed_at == NOW  # a correction never moves the first confirmation
        history = await report_history(session=session, report_id=report_id)
        rows = await unit_reports(session=session, unit_id=world.unit_id)
    assert [(v.version, v.is_current, v.essays) for v in history] == [
        (1, False, 20),
        (2, True, 24),
    ]
    assert len(rows) == 1 and rows[0].version.version == 2
    assert rows[0].deliverable.key == "hoi_nghi"
    (row,) = await _audit(db, "report.update")
    assert row.old == {"version": 1, "essays": 20}
    assert row.new == {"version": 2, "essays": 24}
    assert row.channel == "zalo" and row.actor_person_id == world.colleague_id


async def test_confirm_report_from_a_draft(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        draft = await drafts.start_draft(
            session=session,
            person_id=world.reporter_id,
            unit_id=world.unit_id,
            channel="zalo",
            now=NOW,
            step="summary",
            deliverable_id=world.deliverables["chuong_trinh"],
            answers={"action_program": True, "action_program_date": "2016-09-20"},
        )
        draft_id = pk(draft)
    async with db.write() as session:
        report = await confirm_report(session=session, draft_id=draft_id, now=NOW)
        report_id = pk(report)
    async with db.read() as session:
        assert (await session.execute(select(Draft))).first() is None
        (version,) = await report_history(session=session, report_id=report_id)
    assert version.action_program is True
    assert version.action_program_date == date(2016, 9, 20)
    assert version.channel == "zalo"
    (row,) = await _audit(db, "report.confirm")
    assert row.channel == "zalo" and row.new is not None and row.new["draft_id"] == draft_id
    async with db.write() as session:
        with pytest.raises(DraftGone):
            await confirm_report(session=session, draft_id=draft_id, now=NOW)


async def test_answers_of_fields_that_no_longer_apply_are_not_stored(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        report = await save_report(
            session=session,
            unit_id=world.unit_id,
            deliverable_id=world.deliverables["chuong_trinh"],
            answers={"action_program": False, "action_program_date": date(2016, 9, 1)},
            person_id=None,
            channel="cli",
            now=NOW,
            action="report.import",
        )
        (version,) = await report_history(session=session, report_id=pk(report))
    assert version.action_program is False and version.action_program_date is None
    assert version.answers == {"action_program": False}
    assert len(await _audit(db, "report.import")) == 1


async def test_owed_deliverables_by_due_date_for_the_units_level(db: Database) -> None:
    world = await build_world(db)
    async with db.read() as session:
        unit = await session.get(Unit, world.unit_id)
        assert unit is not None
        owed = await owed_deliverables(session=session, unit=unit, now=NOW)
    assert [(d.key, due) for _, d, due in owed] == [
        ("hoi_nghi", date(2016, 8, 31)),
        ("chuong_trinh", date(2016, 9, 30)),
        ("ke_hoach", date(2016, 9, 30)),
    ]
    await _save(world, SESSION)
    async with db.read() as session:
        unit = await session.get(Unit, world.unit_id)
        assert unit is not None
        owed = await owed_deliverables(session=session, unit=unit, now=NOW)
        items = await unit_deliverables(session=session, unit=unit, now=NOW)
    assert [d.key for _, d, _ in owed] == ["chuong_trinh", "ke_hoach"]
    assert [(i.deliverable.key, i.report is not None) for i in items] == [
        ("hoi_nghi", True),
        ("chuong_trinh", False),
        ("ke_hoach", False),
    ]


async def test_nothing_is_owed_outside_open_started_campaigns_in_scope(db: Database) -> None:
    world = await build_world(db)

    async def owed_keys(now: datetime) -> list[str]:
        async with db.read() as session:
            unit = await session.get(Unit, world.unit_id)
            assert unit is not None
            return [
                d.key for _, d, _ in await owed_deliverables(session=session, unit=unit, now=now)
            ]

    # Before the start date (30/4/2016 in Hà Nội): nothing yet.
    assert await owed_keys(datetime(2016, 4, 30, 12, tzinfo=UTC)) == []
    # 1/5/2016 00:30 in Hà Nội is still 30/4 in UTC: the campaign's local day counts.
    assert len(await owed_keys(datetime(2016, 4, 30, 17, 30, tzinfo=UTC))) == 3
    async with db.write() as session:
        await session.execute(
            update(Campaign).values(scope_unit_id=world.other_unit_id)  # another subtree
        )
    assert await owed_keys(NOW) == []
    async with db.write() as session:
        await session.execute(update(Campaign).values(scope_unit_id=world.province_id))
    assert len(await owed_keys(NOW)) == 3
    async with db.write() as session:
        await session.execute(update(Campaign).values(status="closed"))
    assert await owed_keys(NOW) == []


async def test_a_cell_owes_only_what_applies_to_its_level(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        from tests.factories import make_unit

        parent = await session.get(Unit, world.unit_id)
        cell = await make_unit(session, "CB1", parent=parent, level="chi_bo", members=8)
        owed = await owed_deliverables(session=session, unit=cell, now=NOW)
    # ke_hoach has no deadline for "chi_bo": it does not apply to cells.
    assert [d.key for _, d, _ in owed] == ["hoi_nghi", "chuong_trinh"]


async def test_reports_of_other_units_are_not_listed(db: Database) -> None:
    world = await build_world(db)
    await _save(world, SESSION)
    async with db.read() as session:
        assert await unit_reports(session=session, unit_id=world.other_unit_id) == []
        listed = await unit_reports(
            session=session, unit_id=world.unit_id, campaign_id=world.campaign_id
        )
        assert len(listed) == 1
        versions = (
            await session.execute(select(func.count()).select_from(ReportVersion))
        ).scalar_one()
    assert versions == 1


def test_now_is_aware() -> None:
    assert NOW.tzinfo is UTC
