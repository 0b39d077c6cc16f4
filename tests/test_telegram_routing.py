"""Strangers, replays, edits, groups, non-text messages and failures, through the real
Application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.engine import Actor, Input, Reply
from storage.db import Database
from storage.i18n import t
from storage.models import AuditLog, ChatIdentity, Draft, ProcessedUpdate
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import TOKEN, TelegramHarness, TgUser, bind

REPORTER = TgUser(8201, "A")
STRANGER = TgUser(8299, "X")


@dataclass
class Setup:
    world: World
    harness: TelegramHarness
    db: Database


async def _start(db: Database, engine: Any = None) -> tuple[World, TelegramHarness]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    return world, await TelegramHarness.start(db=db, clock=lambda: NOW, engine=engine)


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world, harness = await _start(db)
    yield Setup(world, harness, db)
    await harness.stop()


async def count(db: Database, model: Any) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_stranger_learns_nothing_whatever_they_send(setup: Setup) -> None:
    h = setup.harness
    everything = []
    for text in ["xin chào", "/tonghop", "/donvi CS1", "/baocao", "/nhacnho CS1", "/thongke", "/x"]:
        calls = await h.send(text, STRANGER)
        assert len(calls.texts()) == 1 and "chưa được cấp quyền" in calls.texts()[0]
        everything.append(calls.everything())
    calls = await h.press("c:1:1:abcdef:d1", STRANGER)
    assert not calls.texts() and calls.of("answerCallbackQuery")
    everything.append(calls.everything())
    calls = await h.process(h.updates.sticker(STRANGER))
    everything.append(calls.everything())
    # The refusal names the organisation to contact (its name says "Tỉnh ủy"; no unit's does).
    joined = " ".join(everything).replace(t("organisation.name", "vi"), "")
    for secret in ["Đảng bộ xã", "CS1", "Tỉnh ủy", "Nguyễn Văn A", "%"]:
        assert secret not in joined.replace("/donvi CS1", "").replace("/nhacnho CS1", "")


async def test_a_person_whose_roles_were_removed_is_a_stranger(setup: Setup) -> None:
    from storage.people import remove_person

    async with setup.db.write() as session:
        await remove_person(session=session, person_id=setup.world.reporter_id, now=NOW)
    calls = await setup.harness.send("/baocao", REPORTER)
    assert "chưa được cấp quyền" in calls.text()


async def test_a_replayed_update_is_processed_once(setup: Setup) -> None:
    h = setup.harness
    update = h.updates.text("/baocao 28/8", REPORTER)
    first = await h.process(update)
    second = await h.process(update)
    assert len(first.texts()) == 1
    # The replay does not run the handler again, and its reply went out already: nothing is
    # said twice (a reply the first turn could not send would be sent now).
    assert second.texts() == []
    assert await count(setup.db, Draft) == 1
    assert await count(setup.db, ProcessedUpdate) == 1

    press = h.updates.callback(first.buttons()[0]["callback_data"], REPORTER)
    pressed = await h.process(press)
    assert pressed.texts()
    again = await h.process(press)
    assert len(again.of("answerCallbackQuery")) == 1
    assert again.texts() == []  # answered once
    async with setup.db.read() as session:
        draft = (await session.execute(select(Draft))).scalar_one()
        assert draft.revision == 2


async def test_an_edited_message_changes_nothing(setup: Setup) -> None:
    h = setup.harness
    calls = await h.send("/baocao", REPORTER)
    await h.press(calls.buttons()[0]["callback_data"], REPORTER)
    async with setup.db.read() as session:
        before = (await session.execute(select(Draft))).scalar_one()

    calls = await h.process(h.updates.edited("28/8", REPORTER))

    assert len(calls) == 0
    async with setup.db.read() as session:
        after = (await session.execute(select(Draft))).scalar_one()
    assert (after.revision, after.step, after.answers) == (
        before.revision,
        before.step,
        before.answers,
    )


async def test_group_commands_get_a_private_please_and_chatter_is_ignored(setup: Setup) -> None:
    h = setup.harness
    calls = await h.process(h.updates.group_text("/tonghop", REPORTER))
    assert calls.texts() == [
        "Vui lòng nhắn tin riêng cho trợ lý để làm việc; trợ lý không trả lời trong nhóm."
    ]
    assert len(await h.process(h.updates.group_text("chào cả nhà", REPORTER))) == 0
    assert await count(setup.db, Draft) == 0


class ExplodingEngine:
    """An engine that fails inside the transaction (after writing a draft)."""

    def __init__(self, fail_at_commit: bool = False) -> None:
        self.fail_at_commit = fail_at_commit

    async def has_open_draft(self, *, session: AsyncSession, person_id: int) -> bool:
        return False

    async def handle(
        self, *, session: AsyncSession, actor: Actor, inp: Input, now: datetime
    ) -> list[Reply]:
        if self.fail_at_commit:
            # Flushed only at commit: the foreign key makes the commit fail.
            session.add(
                AuditLog(
                    at=now,
                    channel="telegram",
                    action="x",
                    entity="x",
                    entity_id="1",
                    actor_person_id=987654,
                )
            )
            return [Reply("Đã ghi nhận báo cáo số 1.")]
        raise RuntimeError(f"the person typed {inp.args}")


@pytest.mark.parametrize("at_commit", [False, True])
async def test_a_failure_rolls_back_and_apologises_without_details(
    db: Database, caplog: pytest.LogCaptureFixture, at_commit: bool
) -> None:
    _, h = await _start(db, engine=ExplodingEngine(at_commit))
    try:
        with caplog.at_level(logging.INFO):
            update = h.updates.text("/baocao 28/8", REPORTER)
            calls = await h.process(update)
        assert calls.texts() == ["Đã có lỗi, vui lòng thử lại."]
        assert "Đã ghi nhận" not in calls.everything()
        assert await count(db, ProcessedUpdate) == 0  # rolled back: a retry will be processed
        async with db.read() as session:  # not even "last seen" was kept
            identity = (await session.execute(select(ChatIdentity))).scalar_one()
            assert identity.last_seen_at != NOW
        logged = caplog.text
        assert (
            f"update {update['update_id']} from user {REPORTER.id} failed in handler baocao"
            in logged
        )
        assert "28/8" not in logged and TOKEN not in logged and "/baocao" not in logged
        assert ("IntegrityError" if at_commit else "RuntimeError") in logged
    finally:
        await h.stop()
