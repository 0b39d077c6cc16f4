"""/tonghop, /thongke, /donvi and /nhacnho: only ever inside the person's scope."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update

from storage.db import Database
from storage.models import ROLE_ADMIN, ROLE_REPORTER, Campaign, Outbox, Person, Unit
from tests.factories import make_person, make_unit, pk
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import TelegramHarness, TgUser, bind

SUPERVISOR = TgUser(8301, "E")
ADMIN = TgUser(8302, "Admin")
REPORTER = TgUser(8303, "A")


@dataclass
class Setup:
    world: World
    harness: TelegramHarness
    db: Database
    outside_id: int


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world = await build_world(db)
    async with db.write() as session:
        province = await session.get(Unit, world.province_id)
        other_district = await make_unit(session, "H2", parent=province, level="huyen", members=90)
        outside = await make_unit(
            session, "CS3", parent=other_district, level="co_so", members=40, name="Đảng bộ xã Bắc"
        )
        await make_person(session, "Đỗ Thị F", roles=[(ROLE_REPORTER, outside)])
        admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
    await bind(db, world.supervisor_id, SUPERVISOR)
    await bind(db, pk(admin), ADMIN)
    await bind(db, world.reporter_id, REPORTER)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    yield Setup(world, harness, db, pk(outside))
    await harness.stop()


async def test_digest_on_demand_is_the_weekly_digest_with_its_chart(setup: Setup) -> None:
    calls = await setup.harness.send("/tonghop", SUPERVISOR)
    admin = (await setup.harness.send("/digest", ADMIN)).text()

    # As the weekly digest: the chart first, then the text.
    assert [c.method for c in calls if c.method.startswith("send")] == [
        "sendPhoto",
        "sendMessage",
    ]
    supervisor = calls.text()
    assert "Bản tổng hợp tuần 39/2016 — Đợt học tập 13-KH/TU" in supervisor
    assert "Phạm vi: các đơn vị đồng chí được phân công theo dõi (3 đơn vị phải báo cáo)." in (
        supervisor
    )
    assert "Đã báo cáo: 0/3 đơn vị" in supervisor
    assert re.search(r"Cấp cơ sở\s+0/2", supervisor)
    assert "Đơn vị chưa báo cáo (đã quá hạn): 3" in supervisor
    assert "Phạm vi: toàn bộ các đơn vị đồng chí quản lý (6 đơn vị phải báo cáo)." in admin
    assert "Đảng bộ xã Bắc" not in supervisor and "CS3" not in supervisor
    assert "Đảng bộ xã Bắc (CS3)" in admin


async def test_digest_without_an_open_campaign_says_so(setup: Setup) -> None:
    async with setup.db.write() as session:
        await session.execute(update(Campaign).values(status="closed"))
    calls = await setup.harness.send("/tonghop", SUPERVISOR)
    assert calls.texts() == ["Hiện không có đợt học tập nào đang mở."]
    assert not calls.of("sendPhoto")


async def test_reporter_cannot_ask_for_a_digest(setup: Setup) -> None:
    calls = await setup.harness.send("/tonghop", REPORTER)
    assert calls.texts() == ["Lệnh này dành cho đồng chí được phân công theo dõi hoặc quản trị."]
    calls = await setup.harness.send("/thongke", SUPERVISOR)
    assert calls.texts() == ["Lệnh này dành cho quản trị."]


async def test_stats_for_admins_add_the_written_paragraph(setup: Setup) -> None:
    text = (await setup.harness.send("/thongke", ADMIN)).text()
    assert text.startswith("Thống kê toàn bộ phạm vi quản trị")
    assert "0/3 đơn vị" in text
    assert "hạn chế" in text.lower() or "chưa" in text
    assert "0 đúng hạn, 0 trễ hạn" in text and "muộn" not in text


async def test_unit_outside_scope_is_answered_like_a_unit_that_does_not_exist(setup: Setup) -> None:
    outside = await setup.harness.send("/donvi CS3", SUPERVISOR)
    missing = await setup.harness.send("/donvi NOPE", SUPERVISOR)
    assert outside.texts() == ["Không tìm thấy đơn vị «CS3» trong phạm vi đồng chí theo dõi."]
    assert missing.texts() == ["Không tìm thấy đơn vị «NOPE» trong phạm vi đồng chí theo dõi."]
    assert "Đảng bộ xã Bắc" not in outside.everything()


async def test_unit_inside_scope_shows_its_deliverables(setup: Setup) -> None:
    text = (await setup.harness.send("/donvi cs1", SUPERVISOR)).text()
    assert text.startswith("Đảng bộ xã Đông (mã CS1) — 30 đảng viên")
    # The calling list: every reporter with their phone; who cannot be reached in chat.
    assert (
        "Người báo cáo: Lê Thị C, điện thoại chưa có (chưa kết nối chat, cần gọi trực tiếp); "
        "Nguyễn Văn A, điện thoại chưa có; Trần Văn D, điện thoại chưa có (chưa kết nối chat"
    ) in text
    assert "• Hội nghị học tập, quán triệt Nghị quyết (hạn 31/8/2016): chưa báo cáo" in text
    assert (
        (await setup.harness.send("/donvi", SUPERVISOR))
        .texts()[0]
        .startswith("Vui lòng gửi kèm mã đơn vị")
    )


async def test_nudge_once_a_day_and_only_in_scope(setup: Setup) -> None:
    first = await setup.harness.send("/nhacnho CS1", SUPERVISOR)
    second = await setup.harness.send("/remind CS1", SUPERVISOR)
    outside = await setup.harness.send("/nhacnho CS3", SUPERVISOR)
    by_reporter = await setup.harness.send("/nhacnho CS1", REPORTER)

    assert first.texts() == [
        "Đã gửi lời nhắc tới người báo cáo của Đảng bộ xã Đông (mã CS1).\n"
        "Chưa kết nối, cần gọi trực tiếp: Lê Thị C (chưa có số điện thoại); Trần Văn D (chưa có"
        " số điện thoại).",
    ]
    assert "đã được nhắc hôm nay" in second.text()
    assert "Không tìm thấy đơn vị «CS3»" in outside.text()
    assert "dành cho đồng chí được phân công theo dõi" in by_reporter.text()
    async with setup.db.read() as session:
        rows = (await session.execute(select(func.count()).select_from(Outbox))).scalar_one()
    assert rows == 3  # one nudge per reporter of CS1 (three people report for it), once


async def test_nudge_to_a_unit_whose_reporter_has_no_chat_account_says_whom_to_call(
    setup: Setup,
) -> None:
    async with setup.db.write() as session:
        double = await session.get(Person, setup.world.double_id)
        assert double is not None
        double.phone = "0912 345 678"
    reply = await setup.harness.send("/nhacnho CS2", SUPERVISOR)
    assert reply.texts() == [
        "Chưa gửi được lời nhắc: người báo cáo của Đảng bộ xã Tây (mã CS2) chưa kết nối tài khoản"
        " Zalo hoặc Telegram với trợ lý. Đồng chí vui lòng gọi trực tiếp: Trần Văn D (điện thoại"
        " 0912 345 678)."
    ]
    async with setup.db.read() as session:
        rows = (await session.execute(select(func.count()).select_from(Outbox))).scalar_one()
    assert rows == 0  # nothing queued that could never be delivered


async def test_a_report_made_in_chat_shows_in_the_unit_and_the_digest(setup: Setup) -> None:
    from tests.test_telegram_reporting import answer_session_questions, button

    h = setup.harness
    summary = await answer_session_questions(h, user=REPORTER)
    assert "Đã ghi nhận" in (await h.press(button(summary, "Xác nhận"), REPORTER)).text()

    unit = (await h.send("/donvi CS1", SUPERVISOR)).text()
    assert "• Hội nghị học tập, quán triệt Nghị quyết (hạn 31/8/2016): đã báo cáo trễ hạn" in unit
    assert "   Đảng viên tham dự: 28" in unit
    assert "   Ngày tổ chức hội nghị: 28/8/2016" in unit
    digest = (await h.send("/tonghop", SUPERVISOR)).text()
    assert "Đã báo cáo: 1/3 đơn vị (33,3%" in digest
    assert "Đúng hạn: 0 · Trễ hạn: 1 · Chưa báo cáo: 2" in digest
    assert "- Đảng viên tham gia học tập: 93,3% (28/30 đồng chí" in digest
    assert "- Viết bài thu hoạch: 96,4% (27/28 đồng chí" in digest


async def test_nhacnho_caidat_chooses_the_escalation_days(setup: Setup) -> None:
    shown = (await setup.harness.send("/nhacnho caidat", SUPERVISOR)).text()
    assert shown.startswith(
        "Đồng chí đang nhận danh sách đơn vị quá hạn vào: các ngày do đợt học tập quy định"
    )
    assert "1 — thứ Hai và thứ Năm; 2 — thứ Hai; 3 — thứ Ba và thứ Sáu" in shown
    assert "bấm" not in shown.lower()  # typed on every channel, Zalo included
    saved = (await setup.harness.send("/nhacnho caidat 3", SUPERVISOR)).text()
    assert saved.startswith("Đã lưu: đồng chí sẽ nhận danh sách đơn vị quá hạn vào thứ Ba và")
    bad = (await setup.harness.send("/nhacnho caidat 9", SUPERVISOR)).text()
    assert bad.startswith("Vui lòng gõ /nhacnho caidat kèm một số thứ tự")
    refused = (await setup.harness.send("/nhacnho caidat 1", REPORTER)).text()
    assert "dành cho đồng chí được phân công theo dõi" in refused
    async with setup.db.read() as session:
        supervisor = await session.get(Person, setup.world.supervisor_id)
        reporter = await session.get(Person, setup.world.reporter_id)
    assert supervisor is not None and supervisor.escalation_weekdays == "1,4"
    assert reporter is not None and reporter.escalation_weekdays is None
