"""bot.telegram.polling against the fake Bot API over HTTP: updates are confirmed (the getUpdates
offset moves past them) only after they were processed; a loop killed mid-batch leaves the batch
to the next loop, which processes each update once; network errors and RetryAfter are retried;
a rejected token ends the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram.error import InvalidToken

from bot.app import build_application
from bot.telegram import polling
from bot.telegram.polling import run_polling
from bot.telegram.processing import TelegramApp
from storage.db import Database
from storage.models import ProcessedUpdate
from storage.settings import Settings
from tests.botapi_stub import OUTER, ApiCall, BotApiStub
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TgUser, bind
from tests.turn_hooks import Read, around_turn_read

REPORTER = TgUser(8501, "A")
STRANGERS = [8502, 8503]  # accounts without a person: they get the refusal


@dataclass
class Polling:
    stub: BotApiStub
    app: TelegramApp

    def start(self) -> tuple[asyncio.Task[None], asyncio.Event]:
        stop = asyncio.Event()
        return asyncio.create_task(run_polling(self.app, stop, poll_timeout=1)), stop


class FlakyStub(BotApiStub):
    """Answers the first getUpdates with 502 Bad Gateway and the second with 429 (retry after
    0 s), then like Telegram."""

    failures: list[tuple[int, dict[str, Any]]]

    async def _dispatch(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if path.endswith("/getUpdates") and self.failures:
            await self._record(ApiCall("getUpdates", {}, "failed"))
            return self.failures.pop(0)
        return await super()._dispatch(path, headers, body)


async def _polling(db: Database, stub: BotApiStub) -> AsyncIterator[Polling]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    await stub.start()
    settings = Settings(telegram_token=stub.token, telegram_api_url=stub.base_url, _env_file=None)
    app = build_application(settings, db=db, clock=lambda: NOW)
    try:
        async with app:
            yield Polling(stub, app)
    finally:
        await stub.close()


@pytest.fixture
async def bot(db: Database) -> AsyncIterator[Polling]:
    async for running in _polling(db, BotApiStub()):
        yield running


@pytest.fixture
async def flaky(db: Database) -> AsyncIterator[Polling]:
    stub = FlakyStub()
    stub.failures = [
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 0",
                "parameters": {"retry_after": 0},
            },
        ),
    ]
    async for running in _polling(db, stub):
        yield running


async def processed(db: Database) -> int:
    async with db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ProcessedUpdate))).scalar_one()
        )


def offsets(stub: BotApiStub) -> list[int | None]:
    return [c.params.get("offset") for c in stub.sent("getUpdates")]


async def test_a_loop_killed_mid_batch_leaves_the_batch_to_the_next_which_processes_each_once(
    bot: Polling, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = bot.stub
    entered, gate = asyncio.Event(), asyncio.Event()

    async def slow_for_the_reporter(real: Read, kwargs: dict[str, Any]) -> Any:
        if kwargs["external_id"] == str(REPORTER.id):
            entered.set()
            await gate.wait()
        return await real(**kwargs)

    around_turn_read(monkeypatch, slow_for_the_reporter)
    # The slow update last: on SQLite it holds the only write transaction while it waits.
    batch = [
        stub.text_update(STRANGERS[0], "xin chào"),
        stub.text_update(STRANGERS[1], "xin chào"),
        stub.text_update(REPORTER.id, "/tinhtrang"),
    ]
    for update in batch:
        await stub.push(update)

    first, _ = bot.start()
    await asyncio.wait_for(entered.wait(), OUTER)
    await stub.wait_for(lambda calls: len(stub.sent("sendMessage")) == 2 or None)
    assert await processed(db) == 2  # the strangers' updates; the reporter's is in progress
    assert offsets(stub) == [None]  # nothing confirmed while the batch runs
    first.cancel()  # a kill: the reporter's transaction rolls back
    await asyncio.gather(first, return_exceptions=True)
    assert await processed(db) == 2
    assert len(stub.sent("getUpdates")) == 1  # not even the final confirmation

    gate.set()
    second, stop = bot.start()
    await stub.wait_for(lambda calls: stub.messages_to(REPORTER.id) or None)
    await stub.wait_for(lambda calls: offsets(stub)[-1] == batch[-1]["update_id"] + 1 or None)
    stop.set()
    await asyncio.wait_for(second, OUTER)

    assert await processed(db) == 3
    # Each update processed once. The strangers' updates were processed and answered before the
    # kill but never confirmed: their replays do not run the handler again and send only a reply
    # whose `delivered` mark had not landed (on SQLite the marks wait behind the reporter's
    # held write lock, so the kill usually cuts them off; on PostgreSQL they usually land). So a
    # stranger hears the same refusal once, or twice at most, never anything else; the reporter,
    # cut off mid-way, is answered exactly once.
    counts = [len(stub.messages_to(user)) for user in (*STRANGERS, REPORTER.id)]
    assert all(1 <= count <= 2 for count in counts[:2]), counts
    assert counts[2] == 1
    for user in STRANGERS:
        assert len({message.text for message in stub.messages_to(user)}) == 1
    assert offsets(stub)[1] is None  # the second loop got the whole batch again
    assert stub.sent("deleteWebhook")


async def test_a_stop_confirms_the_processed_batch(bot: Polling, db: Database) -> None:
    stub = bot.stub
    update = stub.text_update(STRANGERS[0], "xin chào")
    await stub.push(update)
    task, stop = bot.start()
    await stub.wait_for(lambda calls: stub.messages_to(STRANGERS[0]) or None)
    stop.set()
    await asyncio.wait_for(task, OUTER)
    assert offsets(stub)[-1] == update["update_id"] + 1  # Telegram forgets it

    again, stop = bot.start()
    await stub.wait_for(lambda calls: len(stub.sent("getUpdates")) >= 3 or None)
    stop.set()
    await asyncio.wait_for(again, OUTER)
    assert len(stub.messages_to(STRANGERS[0])) == 1
    assert await processed(db) == 1


async def test_network_errors_and_retry_after_are_retried(
    flaky: Polling, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "BACKOFF_FIRST", 0.01)
    stub = flaky.stub
    await stub.push(stub.text_update(STRANGERS[0], "xin chào"))
    task, stop = flaky.start()
    await stub.wait_for(lambda calls: stub.messages_to(STRANGERS[0]) or None)
    stop.set()
    await asyncio.wait_for(task, OUTER)
    assert [c.result for c in stub.sent("getUpdates")][:2] == ["failed", "failed"]
    assert await processed(db) == 1


async def test_a_rejected_token_ends_the_loop(bot: Polling) -> None:
    bot.stub.reject_token = True
    task, _ = bot.start()
    with pytest.raises(InvalidToken):
        await asyncio.wait_for(task, OUTER)
