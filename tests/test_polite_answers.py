"""A whole report typed as secretaries write it (courtesy particles, no diacritics, number
words, relative dates, "báo cáo" without its slash) through each adapter records the same report
as the plain answers; the receipt read back on each channel restates the recorded figures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import ReportVersion
from tests.report_fixtures import NOW
from tests.telegram_harness import TelegramHarness, TgUser, bind
from tests.zalo_fixtures import REPORTER, bind_zalo, open_zalo

TG_REPORTER = TgUser(8101, "A")

# NOW is Thursday 29/9/2016, 10:00 local. Start command, deliverable pick, the seven answers.
PLAIN = ["/baocao", "1", "28/9", "2", "30", "25", "0", "bỏ qua", "2", "20"]
VARIANTS = {
    "polite": [
        "báo cáo ạ",
        "1 ạ",
        "hôm qua ạ",
        "2 buổi ạ",
        "dạ 30 đồng chí ạ",
        "25 đồng chí ạ.",
        "không có ạ",
        "bỏ qua nhé",
        "2 ạ",
        "20 bài ạ!",
    ],
    "no_diacritics": [
        "Bao cao",
        "1",
        "ngay 28-9",
        "2 BUOI",
        "30 dong chi",
        "25 dc a",
        "khong",
        "bo qua",
        "bao cao vien cap tinh/cap huyen",
        "20 bai thu hoach",
    ],
    "number_words": [
        "/baocao",
        "một",
        "thứ tư tuần này",
        "hai buổi",
        "ba mươi",
        "hai mươi lăm",
        "ko",
        "bỏ qua",
        "hai",
        "hai mươi ạ",
    ],
    "days": [
        *("/baocao", "1", "28.9.2016", "một ngày", "ba mươi", "hai lăm", "chưa có", "-", "2"),
        "20",
    ],
}

EXPECTED = {
    "session_date": date(2016, 9, 28),
    "duration_halfdays": 2,
    "members": 30,
    "attended": 25,
    "nonmembers_attended": 0,
    "presenter_standing": "bao_cao_vien",
    "essays": 20,
}
RECEIPT_LINES = (
    "Đã ghi nhận báo cáo số 1 lúc 10:00 ngày 29/9/2016 (phiên bản 1).",
    "«Hội nghị học tập, quán triệt Nghị quyết» của Đảng bộ xã Đông:",
    "• Ngày tổ chức hội nghị: 28/9/2016",
    "• Thời gian học tập (số buổi): 2",
    "• Số đảng viên của đơn vị: 30",
    "• Số đảng viên dự học tập: 25/30",
    "• Số người chưa là đảng viên cùng dự: 0",
    "• Báo cáo viên: —",
    "• Báo cáo viên là: Báo cáo viên cấp tỉnh/cấp huyện",
    "• Số bài thu hoạch đã nộp: 20/25",
)

Send = Callable[[str], Awaitable[str]]


async def recorded(db: Database) -> dict[str, Any]:
    async with db.read() as session:
        (version,) = (await session.execute(select(ReportVersion))).scalars().all()
    return {key: getattr(version, key) for key in EXPECTED} | {
        "presenter": version.answers.get("presenter")
    }


async def drive(send: Send, answers: list[str], confirm: str) -> str:
    for text in answers:
        reply = await send(text)
        assert "Đồng chí trả lời “" not in reply, (text, reply)  # nothing refused
    assert "Đồng chí kiểm tra lại báo cáo" in reply
    return await send(confirm)


@asynccontextmanager
async def _telegram(db: Database) -> AsyncIterator[tuple[Database, Send]]:
    from tests.report_fixtures import build_world

    world = await build_world(db)
    await bind(db, world.reporter_id, TG_REPORTER)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)

    async def send(text: str) -> str:
        return (await harness.send(text, TG_REPORTER)).text()

    try:
        yield db, send
    finally:
        await harness.stop()


@asynccontextmanager
async def _zalo(db: Database) -> AsyncIterator[tuple[Database, Send]]:
    async with open_zalo(db) as opened:
        await bind_zalo(db, opened.world.reporter_id, REPORTER)

        async def send(text: str) -> str:
            return "\n".join(await opened.send(REPORTER, text))

        yield db, send


CHANNELS = {"telegram": _telegram, "zalo": _zalo}


@pytest.fixture
async def telegram(db: Database) -> AsyncIterator[tuple[Database, Send]]:
    async with _telegram(db) as opened:
        yield opened


@pytest.fixture
async def zalo(db: Database) -> AsyncIterator[tuple[Database, Send]]:
    async with _zalo(db) as opened:
        yield opened


@pytest.fixture(params=sorted(CHANNELS))
async def each_channel(
    request: pytest.FixtureRequest, db: Database
) -> AsyncIterator[tuple[Database, Send]]:
    async with CHANNELS[request.param](db) as opened:
        yield opened


@pytest.mark.parametrize("variant", ["plain", *VARIANTS])
async def test_telegram_records_the_same_report_for_every_way_of_writing(
    telegram: tuple[Database, Send], variant: str
) -> None:
    db, send = telegram
    receipt = await drive(send, VARIANTS.get(variant, PLAIN), "1")
    assert await recorded(db) == EXPECTED | {"presenter": None}
    for line in RECEIPT_LINES:
        assert line in receipt, (line, receipt)


@pytest.mark.parametrize("variant", ["plain", *VARIANTS])
async def test_zalo_records_the_same_report_for_every_way_of_writing(
    zalo: tuple[Database, Send], variant: str
) -> None:
    db, send = zalo
    receipt = await drive(send, VARIANTS.get(variant, PLAIN), "xác nhận ạ")
    assert await recorded(db) == EXPECTED | {"presenter": None}
    for line in RECEIPT_LINES:
        assert line in receipt, (line, receipt)


async def test_refusals_quote_the_input_and_catch_attendance_at_once(
    each_channel: tuple[Database, Send],
) -> None:
    _db, send = each_channel
    for text in ["bao cao", "1", "hôm qua ạ", "hai buổi ạ", "53"]:
        await send(text)
    refused = await send("999 ạ")
    assert refused.startswith(
        "Số đảng viên dự học tập (999) không được lớn hơn số đảng viên của đơn vị (53)."
    )
    assert "Câu 4/8" in refused and "Câu 3/8" not in refused
    refused = await send("hai mươi ba bốn")
    assert refused.startswith("Đồng chí trả lời “hai mươi ba bốn”.") and "ví dụ: 25" in refused
    await send("năm mươi ạ")
    await send("không")
    refused = await send("không")  # a presenter's name, not "không": skipped (optional)
    assert "Câu 7/8" in refused
    await send("bỏ qua")
    summary = await send("năm mươi mốt")
    assert "Số bài thu hoạch đã nộp (51) không được lớn hơn" in summary


async def test_update_receipt_says_what_changed_on_both_channels(
    each_channel: tuple[Database, Send],
) -> None:
    _db, send = each_channel
    await drive(send, PLAIN, "1")
    await send("cap nhat")
    await send("Số bài thu hoạch đã nộp")
    await send("hai mươi hai ạ")
    receipt = await send("1")
    assert receipt.startswith("Đã cập nhật báo cáo số 1 (phiên bản 2) lúc 10:00 ngày 29/9/2016.")
    assert "«Hội nghị học tập, quán triệt Nghị quyết» của Đảng bộ xã Đông, đã thay đổi:" in receipt
    assert "• Số bài thu hoạch đã nộp: 20 → 22" in receipt
    assert "Số đảng viên dự học tập" not in receipt
