"""Forgetting a person: no table keeps their name, phone or chat account; the unit's reports and
figures stay (their versions say "đã xóa"); their Telegram account is a stranger at once."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from bot.export import write_xlsx
from scheduler.reminders import nudge_unit
from storage.db import Database
from storage.figures import compute_figures
from storage.forget import FORGOTTEN_NAME, forget_person
from storage.invites import create_invite
from storage.migrate import upgrade
from storage.models import (
    ROLE_REPORTER,
    AuditLog,
    Draft,
    Invite,
    Outbox,
    Person,
    Report,
    ReportVersion,
    metadata,
)
from storage.people import create_person, remove_person
from storage.reports import save_report, update_report
from tests.cli_fixtures import ops_cli
from tests.factories import pk
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import TelegramHarness, TgUser

NAME = "Hoàng Thị Quỳnh Như"
PHONE = "0912777555"
TG_ID = 987_654_321
REPORTER = TgUser(TG_ID, "Quỳnh", "Như")
SUPERVISOR_TG = TgUser(977_111_222, "E")
SESSION = {
    "session_date": date(2016, 8, 28),
    "duration_halfdays": 2,
    "members": 30,
    "attended": 25,
    "nonmembers_attended": None,
    "presenter": "Đ/c Trần Văn B",
    "essays": 20,
}


@dataclass
class Setup:
    world: World
    db: Database
    harness: TelegramHarness
    person_id: int
    report_id: int


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world = await build_world(db)
    async with db.write() as session:
        await session.execute(
            update(Person)
            .where(col(Person.id) == world.reporter_id)
            .values(full_name=NAME, phone=PHONE, language="vi")
        )
        _, code = await create_invite(
            session=session,
            role_kind=ROLE_REPORTER,
            unit_id=world.unit_id,
            now=NOW - timedelta(days=1),
            person_id=world.reporter_id,
        )
        # A second invite naming her, never used: it goes.
        await create_invite(
            session=session,
            role_kind=ROLE_REPORTER,
            unit_id=world.other_unit_id,
            now=NOW - timedelta(days=1),
            person_id=world.reporter_id,
            person_name=NAME,
        )
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    # A failed attempt (throttling keeps the account id), then the real redemption.
    await harness.send("/start K7Q4M-2XP9T", REPORTER)
    welcome = await harness.send(f"/start {code}", REPORTER)
    assert NAME in welcome.text()
    async with db.write() as session:
        report = await save_report(
            session=session,
            unit_id=world.unit_id,
            deliverable_id=world.deliverables["hoi_nghi"],
            answers=SESSION,
            person_id=world.reporter_id,
            channel="telegram",
            now=NOW - timedelta(days=2),
        )
        await update_report(
            session=session,
            report_id=pk(report),
            answers={**SESSION, "essays": 24},
            person_id=world.reporter_id,
            channel="telegram",
            now=NOW - timedelta(days=1),
        )
        # The unit still owes the action program: the supervisor's nudge names her.
        assert (
            await nudge_unit(
                session=session,
                unit_id=world.unit_id,
                by_person_id=world.supervisor_id,
                now=NOW,
            )
        ).queued
    await harness.send("/baocao", REPORTER)  # a draft is open
    yield Setup(world, db, harness, world.reporter_id, pk(report))
    await harness.stop()


async def dump(db: Database) -> str:
    """Every row of every table, as one JSON string (non-ASCII kept, so names read as typed)."""
    rows: list[Any] = []
    async with db.read() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                rows.append([table.name, {k: str(v) for k, v in row.items()}])
    return json.dumps(rows, ensure_ascii=False)


async def figures_text(setup: Setup) -> str:
    async with setup.db.read() as session:
        figures = await compute_figures(
            session=session, campaign_id=setup.world.campaign_id, as_of=NOW
        )
    return repr(figures.total)


async def forget(setup: Setup, person_id: int) -> None:
    async with setup.db.write() as session:
        result = await forget_person(
            session=session, person_id=person_id, now=NOW, actor_person_id=None, channel="cli"
        )
    assert result.found


async def test_no_table_keeps_her_name_phone_or_telegram_id(setup: Setup) -> None:
    before = await dump(setup.db)
    assert NAME in before and PHONE in before and str(TG_ID) in before  # the test can fail
    figures_before = await figures_text(setup)

    await forget(setup, setup.person_id)

    after = await dump(setup.db)
    assert NAME not in after
    assert PHONE not in after
    assert str(TG_ID) not in after
    assert await figures_text(setup) == figures_before
    async with setup.db.read() as session:
        person = await session.get(Person, setup.person_id)
        assert person is not None and person.full_name == FORGOTTEN_NAME
        assert person.forgotten_at == NOW and person.phone is None and person.language is None
        versions = list(
            (
                await session.execute(
                    select(ReportVersion).where(col(ReportVersion.report_id) == setup.report_id)
                )
            ).scalars()
        )
        assert [v.created_by_person_id for v in versions] == [setup.person_id] * 2
        assert await session.get(Report, setup.report_id) is not None
        drafts = (
            await session.execute(select(Draft).where(col(Draft.person_id) == setup.person_id))
        ).all()
        assert drafts == []
        invites = list((await session.execute(select(Invite))).scalars())
        assert [i.used_at is not None for i in invites] == [True]  # the unused one is gone
        [nudge] = (
            await session.execute(select(Outbox).where(col(Outbox.person_id) == setup.person_id))
        ).scalars()
        assert nudge.chat_id is None and nudge.status == "pending"
        forgot = (
            await session.execute(select(AuditLog).where(col(AuditLog.action) == "person.forget"))
        ).scalar_one()
        assert forgot.entity_id == str(setup.person_id) and forgot.new is not None
        assert forgot.new["identities"] == 1 and forgot.new["roles"] == 1
        # Audit rows about her are kept (ids, actions), only their personal values are gone.
        actions = set(
            (
                await session.execute(
                    select(col(AuditLog.action)).where(
                        col(AuditLog.entity) == "person",
                        col(AuditLog.entity_id) == str(setup.person_id),
                    )
                )
            ).scalars()
        )
        assert {"identity.bind", "person.forget"} <= actions


async def test_her_telegram_account_is_a_stranger_at_once(setup: Setup) -> None:
    await forget(setup, setup.person_id)
    for command in ("/tinhtrang", "/baocao", "/start", "/trogiup"):
        calls = await setup.harness.send(command, REPORTER)
        everything = calls.everything()
        assert "Đảng bộ xã Đông" not in everything and "CS1" not in everything
        assert NAME not in everything
    refusal = (await setup.harness.send("/tinhtrang", REPORTER)).texts()
    assert refusal and refusal[0].startswith("Xin lỗi, đồng chí chưa được cấp quyền")


async def test_the_export_history_names_her_as_deleted(setup: Setup, tmp_path: Path) -> None:
    await forget(setup, setup.person_id)
    output = tmp_path / "x.xlsx"
    async with setup.db.read() as session:
        await write_xlsx(
            session=session, campaign_id=setup.world.campaign_id, as_of=NOW, output=output
        )
    book = load_workbook(io.BytesIO(output.read_bytes()), read_only=True)
    cells = [
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    assert NAME not in cells
    assert FORGOTTEN_NAME in cells  # the essays correction, "đã xóa" as its author
    assert "24" in cells or 24 in [c for c in cells]


async def test_forgetting_the_supervisor_scrubs_his_name_from_her_nudge(setup: Setup) -> None:
    async with setup.db.read() as session:
        supervisor = await session.get(Person, setup.world.supervisor_id)
        assert supervisor is not None
        name = supervisor.full_name
    assert name in await dump(setup.db)

    await forget(setup, setup.world.supervisor_id)

    assert name not in await dump(setup.db)
    async with setup.db.read() as session:
        [nudge] = (
            await session.execute(select(Outbox).where(col(Outbox.person_id) == setup.person_id))
        ).scalars()
    text = json.dumps(nudge.payload, ensure_ascii=False)
    assert NAME in text and FORGOTTEN_NAME in text  # hers is untouched; his is replaced


async def test_a_removed_person_can_still_be_forgotten(setup: Setup) -> None:
    async with setup.db.write() as session:
        assert await remove_person(session=session, person_id=setup.person_id, now=NOW)
    assert NAME in await dump(setup.db)  # the removal's audit row names her

    await forget(setup, setup.person_id)

    after = await dump(setup.db)
    assert NAME not in after and str(TG_ID) not in after


async def test_forgetting_an_unknown_id_finds_nothing(db: Database) -> None:
    async with db.write() as session:
        result = await forget_person(session=session, person_id=4242, now=NOW)
    assert not result.found


async def test_cli_people_forget(tmp_path: Path) -> None:
    path = tmp_path / "cadrebot.db"
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db.engine)
        async with db.write() as session:
            person = await create_person(session=session, full_name=NAME, phone=PHONE, now=NOW)
        person_id = pk(person)
    finally:
        await db.dispose()
    app = ops_cli()
    runner = CliRunner(env={"CADREBOT_DATABASE_URL": f"sqlite:///{path}", "COLUMNS": "300"})

    done = await asyncio.to_thread(runner.invoke, app, ["people", "forget", str(person_id)])
    missing = await asyncio.to_thread(runner.invoke, app, ["people", "forget", "999"])

    assert done.exit_code == 0, done.output
    assert f"Đã xóa dữ liệu cá nhân của người số {person_id}" in done.output
    assert missing.exit_code == 1 and "Không có người số 999." in missing.output
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        assert NAME not in await dump(db) and PHONE not in await dump(db)
    finally:
        await db.dispose()
