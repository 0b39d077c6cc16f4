"""/start with invite codes through the real Application: success, every refusal, throttling,
menus, strangers, /trogiup."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from storage.db import Database
from storage.invites import create_invite, revoke_invite
from storage.models import CHANNEL_TELEGRAM, ROLE_REPORTER, ROLE_SUPERVISOR, ChatIdentity, Role
from storage.people import find_person_by_identity
from tests.factories import make_levels, make_person, make_unit, pk
from tests.telegram_harness import TelegramHarness, TgUser, bind

ALICE = TgUser(7001, "Văn A", "Nguyễn")
BOB = TgUser(7002, "Bob", language_code="en")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Setup:
    harness: TelegramHarness
    clock: Clock
    db: Database
    unit_id: int
    code: str


@pytest.fixture
async def setup(db: Database, now: datetime) -> AsyncIterator[Setup]:
    clock = Clock(now)
    async with db.write() as session:
        await make_levels(session)
        province = await make_unit(session, "T", level="tinh", name="Tỉnh ủy Bắc Ninh")
        cell = await make_unit(
            session, "CB01", parent=province, level="co_so", name="Chi bộ Thôn Đông"
        )
        _, code = await create_invite(
            session=session,
            role_kind=ROLE_REPORTER,
            unit_id=cell.id,
            now=now,
            person_name="Nguyễn Văn A",
        )
    harness = await TelegramHarness.start(db=db, clock=clock)
    yield Setup(harness, clock, db, pk(cell), code)
    await harness.stop()


async def test_start_with_a_code_binds_greets_and_sets_the_menu(setup: Setup) -> None:
    calls = await setup.harness.send(f"/start {setup.code}", ALICE)

    [text] = calls.texts()
    assert text.startswith("Chào đồng chí Nguyễn Văn A!")
    assert "người báo cáo của Chi bộ Thôn Đông (mã CB01)" in text
    assert "/baocao" in text and "/tonghop" not in text
    [menu] = calls.of("setMyCommands")
    scope = menu.params["scope"]
    scope = json.loads(scope) if isinstance(scope, str) else scope
    assert scope == {"type": "chat", "chat_id": ALICE.id}
    commands = menu.params["commands"]
    commands = json.loads(commands) if isinstance(commands, str) else commands
    assert [c["command"] for c in commands] == [
        "baocao",
        "capnhat",
        "tinhtrang",
        "huy",
        "kenh",
        "web",
        "trogiup",
    ]
    assert all(c["description"] for c in commands)
    async with setup.db.read() as session:
        person = await find_person_by_identity(
            session=session, channel=CHANNEL_TELEGRAM, external_id=str(ALICE.id)
        )
        assert person is not None and person.full_name == "Nguyễn Văn A"
        roles = (
            (await session.execute(select(Role).where(col(Role.person_id) == person.id)))
            .scalars()
            .all()
        )
        assert [(r.kind, r.unit_id) for r in roles] == [(ROLE_REPORTER, setup.unit_id)]


async def test_deep_link_payload_is_the_same_code(setup: Setup) -> None:
    # https://t.me/<bot>?start=CODE arrives as the text "/start CODE".
    calls = await setup.harness.send(f"/start {setup.code}", BOB)
    assert calls.texts()[0].startswith("Welcome, comrade Nguyễn Văn A!")  # English client


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        ("malformed", "Mã mời không đúng định dạng"),
        ("unknown", "Mã mời không có trong hệ thống"),
        ("used", "Mã mời này đã được sử dụng"),
        ("expired", "Mã mời đã hết hạn"),
        ("revoked", "Mã mời đã bị thu hồi"),
    ],
)
async def test_each_refusal_is_a_clear_sentence_and_changes_nothing(
    setup: Setup, mutate: str, expected: str
) -> None:
    code = setup.code
    if mutate == "malformed":
        code = "abc!"
    elif mutate == "unknown":
        code = "A" * 24
    elif mutate == "used":
        await setup.harness.send(f"/start {setup.code}", BOB)
    elif mutate == "expired":
        setup.clock.now += timedelta(days=15)
    elif mutate == "revoked":
        async with setup.db.write() as session:
            await revoke_invite(session=session, now=setup.clock.now, code=setup.code)

    calls = await setup.harness.send(f"/start {code}", ALICE)

    assert len(calls.texts()) == 1
    assert expected in calls.texts()[0]
    assert not calls.of("setMyCommands")
    async with setup.db.read() as session:
        assert (
            await find_person_by_identity(
                session=session, channel=CHANNEL_TELEGRAM, external_id=str(ALICE.id)
            )
            is None
        )


async def test_already_bound_account_cannot_take_an_invite_for_someone_else(setup: Setup) -> None:
    async with setup.db.write() as session:
        other = await make_person(session, "Trần Văn B", roles=[(ROLE_SUPERVISOR, None)])
        named = await make_person(session, "Lê Văn C")
        _, code = await create_invite(
            session=session,
            role_kind=ROLE_REPORTER,
            unit_id=setup.unit_id,
            now=setup.clock.now,
            person_id=named.id,
        )
    await bind(setup.db, pk(other), ALICE)

    calls = await setup.harness.send(f"/start {code}", ALICE)

    assert "đã gắn với một người dùng khác" in calls.text()
    async with setup.db.read() as session:
        count = (await session.execute(select(func.count()).select_from(ChatIdentity))).scalar_one()
        assert count == 1


async def test_five_failures_an_hour_then_try_later_even_with_a_good_code(setup: Setup) -> None:
    for _ in range(5):
        calls = await setup.harness.send("/start " + "B" * 24, ALICE)
        assert "không có trong hệ thống" in calls.text()

    calls = await setup.harness.send(f"/start {setup.code}", ALICE)
    assert "thử lại sau một giờ" in calls.text()
    # Another account is not affected, and after the hour this one may try again.
    setup.clock.now += timedelta(hours=1, seconds=1)
    calls = await setup.harness.send(f"/start {setup.code}", ALICE)
    assert calls.texts()[0].startswith("Chào đồng chí")


async def test_stranger_start_without_code_learns_nothing(setup: Setup) -> None:
    calls = await setup.harness.send("/start", ALICE)
    [text] = calls.texts()
    assert "chưa được cấp quyền" in text
    assert "CB01" not in calls.everything() and "Thôn Đông" not in calls.everything()


async def test_known_person_start_without_code_greets_with_help(setup: Setup) -> None:
    await setup.harness.send(f"/start {setup.code}", ALICE)
    calls = await setup.harness.send("/start", ALICE)
    [text] = calls.texts()
    assert text.startswith("Chào đồng chí Nguyễn Văn A! Trợ lý đã sẵn sàng.")
    assert "/baocao — " in text
    assert len(calls.of("setMyCommands")) == 1


async def test_help_lists_the_commands_of_the_roles(setup: Setup) -> None:
    async with setup.db.write() as session:
        admin = await make_person(session, "Lê Văn Admin", roles=[("admin", None)])
    await bind(setup.db, pk(admin), BOB)
    calls = await setup.harness.send("/trogiup", BOB)
    text = calls.text()
    assert "/tonghop" in text and "/thongke" in text and "/nhacnho" in text
    assert "/kenh — " in text  # BOB writes in English
    assert "/baocao" not in text
