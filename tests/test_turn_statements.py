"""What a chat turn costs the database, and where its delivered marks go.

A typed answer is at most 4 SQL statements and the confirm press at most 8, counted at the
driver (SQLite counts its BEGIN IMMEDIATE; PostgreSQL's BEGIN is not a statement): the read of
the person, scope and draft is one statement, the update's row with its replies and the earlier
updates' delivered marks one more, and nothing is written after the send. The delivered marks
ride on the next turn's INSERT; when no turn comes they are written alone, and at the latest
before the database is disposed of. A replay in the same process knows them at once; one after
a kill that lost them says the reply again (at least once, never silence)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlmodel import col

from storage.db import Database
from storage.delivery_marks import pending_marks
from storage.models import ProcessedUpdate
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TelegramHarness, TgUser, bind
from tests.test_telegram_reporting import answer_session_questions, button, counts

REPORTER = TgUser(8451, "A")
OUTER = 120.0


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[TelegramHarness]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    pending_marks(db).flush_after = None  # marks only ride on turns: the counts are exact
    h = await TelegramHarness.start(db=db, clock=lambda: NOW)
    yield h
    await h.stop()


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def delivered_flags(db: Database, update_id: int) -> list[bool]:
    async with db.read() as session:
        replies = (
            await session.execute(
                select(col(ProcessedUpdate.replies)).where(
                    col(ProcessedUpdate.update_id) == str(update_id)
                )
            )
        ).scalar_one()
    return [bool(reply.get("delivered")) for reply in replies or []]


async def test_a_typed_answer_costs_four_statements_and_the_confirm_eight(
    harness: TelegramHarness, db: Database
) -> None:
    h = harness
    await answer_session_questions(h, upto=7, user=REPORTER)  # answered: a mark waits
    with statements(db) as typed:
        summary = await h.send("27", REPORTER)  # the last question's answer
    assert "Xác nhận" in str(summary.buttons())  # taken: the summary is shown
    assert len(typed) <= 4, typed

    with statements(db) as confirm:
        receipt = await h.press(button(summary, "Xác nhận"), REPORTER)
    assert "Đã ghi nhận" in receipt.text()
    assert await counts(db) == (1, 1)
    assert len(confirm) <= 8, confirm


async def test_the_marks_ride_on_the_next_turn_and_a_replay_knows_them_at_once(
    harness: TelegramHarness, db: Database
) -> None:
    h = harness
    start = h.updates.text("/baocao", REPORTER)
    first = await h.process(start)
    assert first.texts()
    assert await delivered_flags(db, start["update_id"]) == [False]  # waiting in this process
    assert (await h.process(start)).texts() == []  # a replay here: already delivered

    await h.press(button(first, "Hội nghị học tập"), REPORTER)
    assert await delivered_flags(db, start["update_id"]) == [True]  # written by that turn


async def test_waiting_marks_are_written_alone_when_no_turn_comes(
    harness: TelegramHarness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    marks = pending_marks(db)
    marks.flush_after = 0.01
    flushed, real = asyncio.Event(), marks.flush

    async def flush() -> None:
        await real()
        flushed.set()

    monkeypatch.setattr(marks, "flush", flush)
    start = h.updates.text("/baocao", REPORTER)
    await h.process(start)
    await asyncio.wait_for(flushed.wait(), OUTER)  # the timer's write, no turn after it
    assert await delivered_flags(db, start["update_id"]) == [True]


async def test_waiting_marks_are_written_before_the_database_is_disposed_of(
    harness: TelegramHarness, db: Database
) -> None:
    h = harness
    start = h.updates.text("/baocao", REPORTER)
    await h.process(start)
    await pending_marks(db).close()  # what `db.dispose()` awaits first
    assert await delivered_flags(db, start["update_id"]) == [True]


async def test_a_replay_after_a_kill_that_lost_the_marks_says_the_reply_again(
    harness: TelegramHarness, db: Database
) -> None:
    h = harness
    start = h.updates.text("/baocao", REPORTER)
    [said] = (await h.process(start)).texts()
    marks = pending_marks(db)
    marks.done(marks.take())  # the process died before they were written

    assert (await h.process(start)).texts() == [said]  # at least once: the same reply
    assert await counts(db) == (0, 0)
