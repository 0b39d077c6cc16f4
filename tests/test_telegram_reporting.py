"""A whole report through Telegram (typed answers and buttons), a doubled confirm press, a
forged press, and a report resumed after the Application was rebuilt on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Report, ReportVersion
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import Calls, TelegramHarness, TgUser, bind

REPORTER = TgUser(8101, "A")
SUPERVISOR = TgUser(8102, "E")


@dataclass
class Setup:
    world: World
    harness: TelegramHarness


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    await bind(db, world.supervisor_id, SUPERVISOR)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    yield Setup(world, harness)
    await harness.stop()


def button(calls: Calls, label_part: str) -> str:
    for b in calls.buttons():
        if label_part in b["text"]:
            return str(b["callback_data"])
    raise AssertionError(f"no button {label_part!r} in {calls.buttons()}")


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        reports = (await session.execute(select(func.count()).select_from(Report))).scalar_one()
        versions = (
            await session.execute(select(func.count()).select_from(ReportVersion))
        ).scalar_one()
    return int(reports), int(versions)


async def answer_session_questions(
    h: TelegramHarness, upto: int = 8, user: TgUser = REPORTER
) -> Calls:
    calls = await h.send("/baocao", user)
    calls = await h.press(button(calls, "Hội nghị học tập"), user)
    assert "Câu 1/8" in calls.text()
    steps: list[tuple[str, str]] = [
        ("send", "28/8"),
        ("send", "2"),
        ("press", "30 (theo danh sách)"),
        ("send", "28 đồng chí"),
        ("press", "Bỏ qua"),
        ("press", "Bỏ qua"),
        ("press", "Bỏ qua"),
        ("send", "27"),
    ]
    for kind, value in steps[:upto]:
        if kind == "send":
            calls = await h.send(value, user)
        else:
            calls = await h.press(button(calls, value), user)
    return calls


async def test_full_report_with_buttons_then_a_doubled_confirm(setup: Setup) -> None:
    h = setup.harness
    summary = await answer_session_questions(h)
    assert "28" in summary.text() and summary.buttons()
    confirm = button(summary, "Xác nhận")

    receipt = await h.press(confirm, REPORTER)
    assert "Đã ghi nhận" in receipt.text()
    assert receipt.of("answerCallbackQuery")
    assert await counts(h.app.bot_data["db"]) == (1, 1)

    again = await h.press(confirm, REPORTER)
    assert len(again.of("answerCallbackQuery")) == 1
    assert again.texts() == ["Báo cáo số 1 đã được ghi nhận rồi, không cần gửi lại."]
    assert await counts(h.app.bot_data["db"]) == (1, 1)


async def test_forged_press_gets_a_short_answer_and_changes_nothing(setup: Setup) -> None:
    h = setup.harness
    await answer_session_questions(h, upto=2)
    before = await counts(h.app.bot_data["db"])

    calls = await h.press("c:999:1:zzzzzz:k", REPORTER)

    [answer] = calls.of("answerCallbackQuery")
    assert answer.params.get("text")
    assert not calls.of("sendMessage")
    assert await counts(h.app.bot_data["db"]) == before
    # The draft still waits at question 3.
    calls = await h.send("/tinhtrang", REPORTER)
    assert "Câu 3/8" in calls.text()


async def test_supervisor_pressing_a_button_changes_nothing(setup: Setup) -> None:
    calls = await setup.harness.press("c:1:1:abcdef:d1", SUPERVISOR)
    [answer] = calls.of("answerCallbackQuery")
    assert answer.params["text"] == "Nút này không còn hiệu lực."
    assert not calls.of("sendMessage")


async def test_report_resumes_after_the_application_is_rebuilt(setup: Setup, db: Database) -> None:
    await answer_session_questions(setup.harness, upto=2)
    await setup.harness.stop()

    rebuilt = await TelegramHarness.start(db=db, clock=lambda: NOW)
    # Telegram's update ids keep growing across restarts (equal ids would be replays).
    rebuilt.updates.next_update_id = setup.harness.updates.next_update_id
    try:
        calls = await rebuilt.send("/baocao", REPORTER)
        assert "Câu 3/8" in calls.text()
        calls = await rebuilt.press(button(calls, "30 (theo danh sách)"), REPORTER)
        assert "Câu 4/8" in calls.text()
    finally:
        await rebuilt.stop()
    setup.harness = await TelegramHarness.start(db=db, clock=lambda: NOW)  # for the teardown


async def test_text_without_a_draft_gets_a_hint_and_a_sticker_asks_for_words(setup: Setup) -> None:
    h = setup.harness
    calls = await h.send("xin chào", REPORTER)
    assert "/baocao" in calls.text()
    await answer_session_questions(h, upto=1)
    calls = await h.process(h.updates.sticker(REPORTER))
    assert calls.texts() == ["Vui lòng trả lời bằng chữ (hoặc bấm một nút)."]
