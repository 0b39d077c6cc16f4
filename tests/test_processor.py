"""PerChatUpdateProcessor: several users at once, one user's updates one at a time and in
arrival order; through the real Application's update queue, a replay is still processed once
and quick successive answers land in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from telegram import Update

from bot.telegram.processor import PerChatUpdateProcessor
from storage.db import Database
from storage.models import Draft, ProcessedUpdate
from storage.settings import Settings
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TOKEN, TelegramHarness, TgUser, UpdateFactory, bind

ALICE = TgUser(8301, "A")
BINH = TgUser(8302, "B")


def _update(factory: UpdateFactory, text: str, user: TgUser) -> Update:
    return Update.de_json(factory.text(text, user), None)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def _recorder(log: list[str]) -> Callable[[str, asyncio.Event | None], Awaitable[None]]:
    async def work(name: str, gate: asyncio.Event | None) -> None:
        log.append(f"{name} start")
        if gate is not None:
            await gate.wait()
        log.append(f"{name} end")

    return work


async def test_a_second_update_of_the_same_user_waits_for_the_first() -> None:
    processor = PerChatUpdateProcessor(8)
    factory = UpdateFactory(lambda: NOW)
    log: list[str] = []
    work, gate = _recorder(log), asyncio.Event()
    first = asyncio.create_task(
        processor.process_update(_update(factory, "28/8", ALICE), work("first", gate))
    )
    second = asyncio.create_task(
        processor.process_update(_update(factory, "2 buổi", ALICE), work("second", None))
    )
    await _settle()
    assert log == ["first start"]  # the second has not started while the first is slow
    gate.set()
    await asyncio.gather(first, second)
    assert log == ["first start", "first end", "second start", "second end"]
    assert processor.waiting_keys == 0


async def test_different_users_run_at_the_same_time() -> None:
    processor = PerChatUpdateProcessor(8)
    factory = UpdateFactory(lambda: NOW)
    log: list[str] = []
    work, gate = _recorder(log), asyncio.Event()
    tasks = [
        asyncio.create_task(processor.process_update(_update(factory, "1", user), work(name, gate)))
        for name, user in (("alice", ALICE), ("binh", BINH))
    ]
    await _settle()
    assert log == ["alice start", "binh start"]
    assert processor.current_concurrent_updates == 2
    gate.set()
    await asyncio.gather(*tasks)


async def test_each_users_order_is_kept_when_slots_are_scarce() -> None:
    """Two slots, three users, interleaved updates: every user's updates run in arrival order
    and never overlap; no more than two run at once."""
    processor = PerChatUpdateProcessor(2)
    factory = UpdateFactory(lambda: NOW)
    users = [TgUser(8310 + i, f"U{i}") for i in range(3)]
    running: set[int] = set()
    peak = 0
    seen: dict[int, list[int]] = {user.id: [] for user in users}

    async def work(user: TgUser, index: int) -> None:
        nonlocal peak
        assert user.id not in running
        running.add(user.id)
        peak = max(peak, len(running))
        for _ in range(index % 3 + 1):
            await asyncio.sleep(0)
        seen[user.id].append(index)
        running.discard(user.id)

    tasks = []
    for index in range(30):
        user = users[(index * 7) % 3 if index % 4 else 0]
        update = _update(factory, str(index), user)
        tasks.append(asyncio.create_task(processor.process_update(update, work(user, index))))
    await asyncio.gather(*tasks)
    assert peak == 2
    for indexes in seen.values():
        assert indexes == sorted(indexes)
    assert sum(len(indexes) for indexes in seen.values()) == 30


async def test_a_waiting_update_cancelled_before_its_turn_leaves_no_trace() -> None:
    processor = PerChatUpdateProcessor(4)
    factory = UpdateFactory(lambda: NOW)
    log: list[str] = []
    work, gate = _recorder(log), asyncio.Event()
    first = asyncio.create_task(
        processor.process_update(_update(factory, "a", ALICE), work("first", gate))
    )
    second = asyncio.create_task(
        processor.process_update(_update(factory, "b", ALICE), work("second", None))
    )
    await _settle()
    second.cancel()
    await _settle()
    gate.set()
    await first
    assert second.cancelled()
    assert log == ["first start", "first end"]
    assert processor.waiting_keys == 0


# --- through the real Application ---------------------------------------------------------


async def _started(db: Database, concurrent: int) -> TelegramHarness:
    world = await build_world(db)
    await bind(db, world.reporter_id, ALICE)
    settings = Settings(telegram_token=TOKEN, concurrent_updates=concurrent, _env_file=None)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, settings=settings)
    assert isinstance(harness.app.update_processor, PerChatUpdateProcessor)
    assert harness.app.concurrent_updates == concurrent
    await harness.app.start()  # the update fetcher: updates put in the queue are processed
    return harness


async def _through_queue(harness: TelegramHarness, updates: list[dict[str, Any]]) -> None:
    for data in updates:
        await harness.app.update_queue.put(Update.de_json(data, harness.app.bot))
    await harness.app.update_queue.join()


async def _count(db: Database, model: Any) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_replayed_update_is_processed_once_with_concurrency(db: Database) -> None:
    harness = await _started(db, concurrent=16)
    try:
        start = harness.updates.text("/baocao", ALICE)
        mark = len(harness.request.calls)
        await _through_queue(harness, [start, start, start])
        sent = harness.request.since(mark).of("sendMessage")
        # Processed once (one draft, one processed-update row); the two replays find the stored
        # reply delivered and send nothing: one answer in the chat.
        assert len(sent) == 1
        assert await _count(db, ProcessedUpdate) == 1
        assert await _count(db, Draft) == 1
    finally:
        await harness.app.stop()
        await harness.stop()


async def test_quick_successive_answers_are_applied_in_order(db: Database) -> None:
    harness = await _started(db, concurrent=16)
    try:
        await _through_queue(harness, [harness.updates.text("/baocao", ALICE)])
        calls = harness.request.since(0)
        data = next(b["callback_data"] for b in calls.buttons() if "Hội nghị" in b["text"])
        await _through_queue(harness, [harness.updates.callback(data, ALICE)])
        mark = len(harness.request.calls)
        # Two answers typed quickly: both arrive before the first is processed.
        await _through_queue(
            harness,
            [harness.updates.text("28/8", ALICE), harness.updates.text("2 buổi", ALICE)],
        )
        texts = harness.request.since(mark).texts()
        assert len(texts) == 2
        assert "Câu 2/8" in texts[0] and "Câu 3/8" in texts[1]
    finally:
        await harness.app.stop()
        await harness.stop()
