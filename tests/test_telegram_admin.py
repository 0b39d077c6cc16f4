"""Admin commands through the real Application: /xuat sends the workbook, /moi makes invite
links, /phancong assigns followed units, /dot opens and closes campaigns. Always inside the
admin's scope, audited, and refused like a stranger to anyone without the role."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.models import (
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    AuditLog,
    Campaign,
    Outbox,
    Unit,
)
from storage.people import find_person_by_identity, roles_of
from storage.rebind import NOTICE_KIND
from tests.factories import make_person, make_unit, pk
from tests.report_fixtures import LOADED, NOW, World, build_world
from tests.telegram_harness import RecordingRequest, TelegramHarness, TgUser, bind

PROVINCE_ADMIN = TgUser(8401, "Tỉnh")
DISTRICT_ADMIN = TgUser(8402, "Huyện")
SUPERVISOR = TgUser(8403, "E")
REPORTER = TgUser(8404, "A")
STRANGER = TgUser(8405, "Lạ")
NEWCOMER = TgUser(8406, "Mới")

REFERENCE = "13-KH/TU"


@dataclass
class Setup:
    world: World
    harness: TelegramHarness
    request: RecordingRequest
    db: Database
    district_id: int
    outside_id: int  # CS3, in the other district H2
    outsider_id: int  # the reporter of CS3
    supervisor_id: int


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world = await build_world(db)
    async with db.write() as session:
        province = await session.get(Unit, world.province_id)
        district = (await session.execute(select(Unit).where(col(Unit.code) == "H"))).scalar_one()
        other_district = await make_unit(session, "H2", parent=province, level="huyen", members=90)
        outside = await make_unit(
            session, "CS3", parent=other_district, level="co_so", members=40, name="Đảng bộ xã Bắc"
        )
        outsider = await make_person(session, "Đỗ Thị F", roles=[(ROLE_REPORTER, outside)])
        province_admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
        district_admin = await make_person(
            session, "Văn phòng Huyện ủy", roles=[(ROLE_ADMIN, district)]
        )
    await bind(db, pk(province_admin), PROVINCE_ADMIN)
    await bind(db, pk(district_admin), DISTRICT_ADMIN)
    await bind(db, world.supervisor_id, SUPERVISOR)
    await bind(db, world.reporter_id, REPORTER)
    request = RecordingRequest(lambda: NOW)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, request=request)
    yield Setup(
        world, harness, request, db, pk(district), pk(outside), pk(outsider), world.supervisor_id
    )
    await harness.stop()


async def audit_rows(db: Database, action: str) -> list[AuditLog]:
    async with db.read() as session:
        query = select(AuditLog).where(col(AuditLog.action) == action).order_by(col(AuditLog.id))
        return list((await session.execute(query)).scalars())


async def refusal_text(setup: Setup) -> str:
    return (await setup.harness.send("/dot", STRANGER)).text()


def workbook_units(data: bytes) -> list[str]:
    """The unit codes on the units sheet (two header rows; STT, then the code)."""
    book = load_workbook(io.BytesIO(data), read_only=True)
    sheet = book["Đơn vị"]
    return [str(row[1]) for row in sheet.iter_rows(min_row=3, values_only=True) if row[1]]


# --- /xuat ----------------------------------------------------------------------------------


async def test_export_sends_the_workbook_of_the_whole_tree(setup: Setup) -> None:
    calls = await setup.harness.send("/xuat", PROVINCE_ADMIN)

    [document] = calls.of("sendDocument")
    assert calls.texts() == []  # the caption says it all
    caption = str(document.params["caption"])
    assert caption.startswith("Báo cáo Học tập, quán triệt, triển khai thực hiện Nghị quyết")
    assert "(13-KH/TU) — toàn bộ các đơn vị; số liệu đến ngày 29/9/2016" in caption
    [(filename, data)] = setup.request.files
    assert filename == "13-KH-TU_toan-bo_2016-09-29.xlsx"
    assert data[:2] == b"PK"
    codes = workbook_units(data)
    assert {"CS1", "CS2", "CS3"} <= set(codes)
    [row] = await audit_rows(setup.db, "export.xlsx")
    assert row.channel == "telegram" and row.entity_id == str(setup.world.campaign_id)
    assert row.actor_person_id is not None and row.new == {"unit_id": None}


async def test_district_admin_exports_their_district_and_nothing_outside(setup: Setup) -> None:
    calls = await setup.harness.send("/export", DISTRICT_ADMIN)
    assert "— Đơn vị H (mã H);" in calls.of("sendDocument")[0].params["caption"]
    [(filename, data)] = setup.request.files
    assert filename.startswith("13-KH-TU_H_")
    codes = workbook_units(data)
    assert "CS1" in codes and "CS3" not in codes

    outside = await setup.harness.send("/xuat CS3", DISTRICT_ADMIN)
    missing = await setup.harness.send("/xuat NOPE", DISTRICT_ADMIN)
    assert outside.texts() == ["Không tìm thấy đơn vị «CS3» trong phạm vi quản lý của đồng chí."]
    assert missing.texts() == ["Không tìm thấy đơn vị «NOPE» trong phạm vi quản lý của đồng chí."]
    assert not outside.of("sendDocument") and "Đảng bộ xã Bắc" not in outside.everything()
    assert len(await audit_rows(setup.db, "export.xlsx")) == 1


async def test_export_of_one_unit_and_usage(setup: Setup) -> None:
    calls = await setup.harness.send(f"/xuat cs1 {REFERENCE}", PROVINCE_ADMIN)
    assert "Đảng bộ xã Đông (mã CS1)" in calls.of("sendDocument")[0].params["caption"]
    assert workbook_units(setup.request.files[0][1]) == ["CS1"]

    usage = await setup.harness.send("/xuat CS1 CS2", PROVINCE_ADMIN)
    assert usage.text().startswith("Cách dùng: /xuat [MÃ_ĐƠN_VỊ] [SỐ_KẾ_HOẠCH]")
    assert not usage.of("sendDocument")


async def test_supervisor_exports_the_units_they_follow(setup: Setup) -> None:
    calls = await setup.harness.send("/xuat", SUPERVISOR)
    assert len(calls.of("sendDocument")) == 1
    assert "CS3" not in workbook_units(setup.request.files[0][1])
    outside = await setup.harness.send("/xuat CS3", SUPERVISOR)
    assert "Không tìm thấy đơn vị «CS3»" in outside.text()


async def test_reporter_and_stranger_get_the_refusal(setup: Setup) -> None:
    refusal = await refusal_text(setup)
    assert "chưa được cấp quyền" in refusal
    for command in ["/xuat", "/xuat CS1", "/moi bithu CS1", "/phancong 1 CS1", "/dot"]:
        for user in (REPORTER, STRANGER):
            calls = await setup.harness.send(command, user)
            assert calls.texts() == [refusal], (command, user)
            assert not calls.of("sendDocument")
    for command in ["/moi bithu CS1", "/phancong 1 CS1", "/dot dong 13-KH/TU"]:
        assert (await setup.harness.send(command, SUPERVISOR)).texts() == [refusal]
    assert await audit_rows(setup.db, "invite.create") == []
    assert await audit_rows(setup.db, "export.xlsx") == []


async def test_several_open_campaigns_are_picked_with_buttons(setup: Setup) -> None:
    async with setup.db.write() as session:
        text = (
            template_text()
            .replace(REFERENCE, "14-KH/TU")
            .replace("Học tập, quán triệt, triển khai", "Đợt hai: học tập")
        )
        await load_campaign(session=session, definition=parse_definition(text), now=LOADED)

    calls = await setup.harness.send("/xuat", DISTRICT_ADMIN)
    [choose] = calls.texts()
    assert choose.startswith("Đang có nhiều đợt học tập. Đồng chí muốn xuất báo cáo đợt nào?")
    assert "• 14-KH/TU — Đợt hai: học tập" in choose and ": gõ /xuat H 14-KH/TU" in choose
    labels = [b["text"] for b in calls.buttons()]
    assert any(label.startswith("14-KH/TU — ") for label in labels)
    data = next(b["callback_data"] for b in calls.buttons() if b["text"].startswith("14-KH/TU"))
    assert not setup.request.files

    pressed = await setup.harness.press(str(data), DISTRICT_ADMIN)
    [document] = pressed.of("sendDocument")
    assert "(14-KH/TU) — Đơn vị H (mã H)" in document.params["caption"]
    assert "CS3" not in workbook_units(setup.request.files[0][1])

    # A forged press for a unit outside the district: the stale answer, no file.
    campaign_id = re.fullmatch(r"xuat:(\d+):\d+", str(data))
    assert campaign_id is not None
    forged = await setup.harness.press(f"xuat:{campaign_id[1]}:{setup.outside_id}", DISTRICT_ADMIN)
    assert not forged.of("sendDocument") and len(setup.request.files) == 1
    assert "không còn hiệu lực" in str(forged.of("answerCallbackQuery")[0].params.get("text"))
    # Or by a reporter: refused.
    refused = await setup.harness.press(str(data), REPORTER)
    assert not refused.of("sendDocument") and len(setup.request.files) == 1


# --- /moi -----------------------------------------------------------------------------------


async def test_invite_link_for_a_reporter_redeems(setup: Setup) -> None:
    calls = await setup.harness.send("/moi báo cáo CS1 Nguyễn Thị Mới", DISTRICT_ADMIN)
    [text] = calls.texts()
    assert text.startswith(
        "Đã tạo mã mời người báo cáo của Đảng bộ xã Đông (mã CS1) cho đồng chí Nguyễn Thị Mới."
    )
    assert "hết hạn sau ngày 13/10/2016" in text
    match = re.search(r"https://t\.me/cadrebot\?start=([A-Za-z0-9_-]+)", text)
    assert match is not None
    assert f"/start {match[1]}" in text
    [row] = await audit_rows(setup.db, "invite.create")
    assert row.channel == "telegram" and row.actor_person_id is not None
    assert row.new is not None and row.new["role"] == ROLE_REPORTER

    welcome = await setup.harness.send(f"/start {match[1]}", NEWCOMER)
    assert welcome.texts()[0].startswith("Chào đồng chí Nguyễn Thị Mới!")


@pytest.mark.parametrize(
    ("words", "role"),
    [
        ("bithu", "người báo cáo"),
        ("reporter", "người báo cáo"),
        ("theo dõi", "người theo dõi"),
        ("giamsat", "người theo dõi"),
        ("supervisor", "người theo dõi"),
        ("quantri", "quản trị"),
        ("admin", "quản trị"),
    ],
)
async def test_invite_role_words(setup: Setup, words: str, role: str) -> None:
    text = (await setup.harness.send(f"/moi {words} CS2", PROVINCE_ADMIN)).text()
    assert text.startswith(f"Đã tạo mã mời {role} của Đảng bộ xã Tây (mã CS2).")


async def test_invite_usage_and_scope(setup: Setup) -> None:
    for command in ["/moi", "/moi bithu", "/moi thủquỹ CS1", "/invite CS1"]:
        text = (await setup.harness.send(command, DISTRICT_ADMIN)).text()
        assert text.startswith("Cách dùng: /moi VAI_TRÒ MÃ_ĐƠN_VỊ"), command
    outside = await setup.harness.send("/moi bithu CS3", DISTRICT_ADMIN)
    assert outside.texts() == ["Không tìm thấy đơn vị «CS3» trong phạm vi quản lý của đồng chí."]
    assert "t.me" not in outside.everything()
    assert await audit_rows(setup.db, "invite.create") == []


async def test_invite_for_an_existing_person_binds_the_account_to_them(setup: Setup) -> None:
    outside = await setup.harness.send(f"/moi nguoi {setup.outsider_id}", DISTRICT_ADMIN)
    assert outside.texts() == [
        f"Không tìm thấy người có số «{setup.outsider_id}» trong phạm vi quản lý của đồng chí."
    ]
    assert (await setup.harness.send("/moi nguoi", DISTRICT_ADMIN)).text().startswith("Cách dùng")

    # The reporter uses Telegram already: re-binding needs a confirmation first.
    reporter = setup.world.reporter_id
    ask = (await setup.harness.send(f"/moi người {reporter}", DISTRICT_ADMIN)).text()
    assert f"(số {reporter}) đang dùng trợ lý trên Telegram" in ask
    assert ask.endswith(f"gõ: /moi nguoi {reporter} xacnhan")
    assert "t.me" not in ask and await audit_rows(setup.db, "invite.create") == []
    assert await notices(setup.db) == []
    wrong = await setup.harness.send(f"/moi nguoi {reporter} có", DISTRICT_ADMIN)
    assert wrong.text().startswith("Cách dùng")

    text = (await setup.harness.send(f"/moi người {reporter} xác nhận", DISTRICT_ADMIN)).text()
    assert text.startswith("Đã tạo mã mời cho đồng chí ")
    # The account in use hears of it at once, in its own chat.
    [(chat, notice)] = await notices(setup.db)
    assert chat == str(REPORTER.id)
    assert notice.startswith("Thông báo: vừa có mã mời để chuyển hồ sơ của đồng chí ")
    assert f"(số {reporter}): tài khoản chat dùng mã sẽ được gắn với đồng chí này" in text
    match = re.search(r"https://t\.me/cadrebot\?start=([A-Za-z0-9_-]+)", text)
    assert match is not None
    [row] = await audit_rows(setup.db, "invite.create")
    assert row.new is not None and row.new["person_id"] == reporter
    async with setup.db.read() as session:
        before = [(r.kind, r.unit_id) for r in await roles_of(session=session, person_id=reporter)]

    welcome = (await setup.harness.send(f"/start {match[1]}", NEWCOMER)).texts()[0]
    assert "các vai trò đã được giao giữ nguyên" in welcome and "/baocao" in welcome
    async with setup.db.read() as session:
        after = [(r.kind, r.unit_id) for r in await roles_of(session=session, person_id=reporter)]
        assert after == before
        owner = await find_person_by_identity(
            session=session, channel="telegram", external_id=str(NEWCOMER.id)
        )
        assert owner is not None and owner.id == reporter
    # The replaced account is told again, and is a stranger from now on.
    assert [chat for chat, _ in await notices(setup.db)] == [str(REPORTER.id)] * 2
    assert "vừa được chuyển sang một tài khoản Telegram khác" in (await notices(setup.db))[1][1]
    assert (await setup.harness.send("/tinhtrang", REPORTER)).text() == await refusal_text(setup)


async def notices(db: Database) -> list[tuple[str | None, str]]:
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Outbox).where(col(Outbox.kind) == NOTICE_KIND).order_by(col(Outbox.id))
            )
        ).scalars()
        return [(row.chat_id, str(row.payload["text"])) for row in rows]


# --- /phancong ------------------------------------------------------------------------------


async def followed(db: Database, person_id: int) -> list[int]:
    async with db.read() as session:
        roles = await roles_of(session=session, person_id=person_id)
    return sorted(r.unit_id for r in roles if r.kind == ROLE_SUPERVISOR and r.unit_id is not None)


async def test_assign_and_remove_followed_units(setup: Setup) -> None:
    person = setup.world.colleague_id  # a reporter of CS1
    calls = await setup.harness.send(f"/phancong {person} CS1 cs2", DISTRICT_ADMIN)
    assert calls.texts() == [
        f"Đồng chí Lê Thị C (mã {person}) theo dõi: "
        "Đảng bộ xã Đông (mã CS1); Đảng bộ xã Tây (mã CS2)."
    ]
    assert await followed(setup.db, person) == [setup.world.unit_id, setup.world.other_unit_id]
    grants = await audit_rows(setup.db, "role.grant")
    assert [(g.channel, g.entity_id) for g in grants] == [("telegram", str(person))] * 2
    assert all(g.actor_person_id is not None for g in grants)

    removed = await setup.harness.send(f"/assign bo {person} CS1", DISTRICT_ADMIN)
    assert removed.texts() == [
        "Đã thôi phân công đồng chí Lê Thị C theo dõi Đảng bộ xã Đông (mã CS1)."
    ]
    again = await setup.harness.send(f"/phancong bo {person} CS1", DISTRICT_ADMIN)
    assert again.texts() == ["Đồng chí Lê Thị C không theo dõi Đảng bộ xã Đông (mã CS1)."]
    assert await followed(setup.db, person) == [setup.world.other_unit_id]
    [revoke] = await audit_rows(setup.db, "role.revoke")
    assert revoke.channel == "telegram" and revoke.actor_person_id is not None


async def test_assign_usage_and_scope(setup: Setup) -> None:
    person = setup.world.colleague_id
    for command in ["/phancong", f"/phancong {person}", "/phancong An CS1", "/phancong bo 1"]:
        text = (await setup.harness.send(command, DISTRICT_ADMIN)).text()
        assert text.startswith("Cách dùng: /phancong SỐ_NGƯỜI"), command

    outside_unit = await setup.harness.send(f"/phancong {person} CS1 CS3", DISTRICT_ADMIN)
    assert outside_unit.texts() == [
        "Không tìm thấy đơn vị «CS3» trong phạm vi quản lý của đồng chí."
    ]
    assert await followed(setup.db, person) == []  # nothing half-done: CS1 not given either

    outsider = await setup.harness.send(f"/phancong {setup.outsider_id} CS1", DISTRICT_ADMIN)
    unknown = await setup.harness.send("/phancong 99999 CS1", DISTRICT_ADMIN)
    assert outsider.texts() == [
        f"Không tìm thấy người có số «{setup.outsider_id}» trong phạm vi quản lý của đồng chí."
    ]
    assert unknown.texts() == [
        "Không tìm thấy người có số «99999» trong phạm vi quản lý của đồng chí."
    ]
    assert "Đỗ Thị F" not in outsider.everything()
    assert await audit_rows(setup.db, "role.grant") == []

    # The province admin reaches everyone; the list shows only units in the admin's scope.
    calls = await setup.harness.send(f"/phancong {setup.outsider_id} CS3", PROVINCE_ADMIN)
    assert calls.texts() == [
        f"Đồng chí Đỗ Thị F (mã {setup.outsider_id}) theo dõi: Đảng bộ xã Bắc (mã CS3)."
    ]


# --- /dot -----------------------------------------------------------------------------------


async def test_campaigns_list_close_and_reporting_stops(setup: Setup) -> None:
    listing = (await setup.harness.send("/dot", PROVINCE_ADMIN)).text()
    assert listing.startswith("Các đợt học tập, quán triệt:")
    assert "\n1. 13-KH/TU — Học tập, quán triệt" in listing
    assert ": Đang mở, bắt đầu 1/5/2016" in listing

    before = await setup.harness.send("/baocao", REPORTER)
    assert "Hiện không có đợt học tập nào đang mở" not in before.text()

    closed = await setup.harness.send(f"/dot dong {REFERENCE}", PROVINCE_ADMIN)
    assert closed.text().startswith("Đã kết thúc đợt 13-KH/TU — Học tập, quán triệt")
    assert "Đã kết thúc" in (await setup.harness.send("/campaigns", PROVINCE_ADMIN)).text()
    async with setup.db.read() as session:
        campaign = await session.get(Campaign, setup.world.campaign_id)
        assert campaign is not None and campaign.status == "closed"
    [row] = await audit_rows(setup.db, "campaign.status")
    assert row.channel == "telegram" and row.actor_person_id is not None
    assert (row.old, row.new) == ({"status": "open"}, {"status": "closed"})

    await setup.harness.send("/huy", REPORTER)
    after = await setup.harness.send("/baocao", REPORTER)
    assert after.text() == "Hiện không có đợt học tập nào đang mở cần Đảng bộ xã Đông báo cáo."
    assert after.buttons() == []
    # No open campaign: /xuat says so; the closed one can still be exported by reference.
    assert (
        "không có đợt học tập nào đang mở"
        in (await setup.harness.send("/xuat", PROVINCE_ADMIN)).text()
    )
    assert (await setup.harness.send(f"/xuat {REFERENCE}", PROVINCE_ADMIN)).of("sendDocument")

    again = await setup.harness.send(f"/dot dong {REFERENCE}", PROVINCE_ADMIN)
    assert again.texts() == ["Đợt 13-KH/TU đã kết thúc từ trước."]
    reopened = await setup.harness.send(f"/dot mo {REFERENCE}", PROVINCE_ADMIN)
    assert reopened.text().startswith("Đã mở đợt 13-KH/TU")
    assert len(await audit_rows(setup.db, "campaign.status")) == 2


async def test_campaigns_usage_and_scope(setup: Setup) -> None:
    for command in ["/dot dong", "/dot xoa 13-KH/TU", "/dot mo 13-KH/TU thêm"]:
        text = (await setup.harness.send(command, PROVINCE_ADMIN)).text()
        assert text.startswith("Cách dùng: /dot"), command
    missing = await setup.harness.send("/dot dong 99-KH/TU", PROVINCE_ADMIN)
    assert missing.texts() == [
        "Không tìm thấy đợt học tập «99-KH/TU» trong phạm vi quản lý của đồng chí."
    ]
    # A district admin may not close the province's campaign.
    district = await setup.harness.send(f"/dot dong {REFERENCE}", DISTRICT_ADMIN)
    assert district.texts() == [
        "Không tìm thấy đợt học tập «13-KH/TU» trong phạm vi quản lý của đồng chí."
    ]
    assert await audit_rows(setup.db, "campaign.status") == []


async def test_admin_menu_and_help_list_the_admin_commands(setup: Setup) -> None:
    text = (await setup.harness.send("/trogiup", DISTRICT_ADMIN)).text()
    for command in ["/xuat", "/moi", "/phancong", "/dot"]:
        assert f"{command} — " in text
    supervisor = (await setup.harness.send("/trogiup", SUPERVISOR)).text()
    assert "/xuat — " in supervisor and "/moi" not in supervisor
