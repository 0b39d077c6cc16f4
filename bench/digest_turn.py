"""The whole /tonghop turn, as the supervisor waits for it (bench/digest_render.py calls this).

The supervisor of bench/digest_world.py gets a bound Telegram account; each run is one new
"/tonghop" update through the turn runner (`bot.core.turn.run_turn` with the real
`TelegramAdapter` and python-telegram-bot's `Bot` over `bot.telegram.local.RecordingRequest`, no
network): the turn's read, the role check, the update recorded with its job in one write
transaction, then the digest job (its own read transaction: data, text, chart) and the photo and
text sent through the Bot API library. The floor, measured in the same run: what any durable
digest delivery costs at minimum, the update id recorded in one write transaction
(`claim_update`) and the same message (the same PNG and text, composed beforehand) sent the same
way. The chart's PNG cache (`scheduler.digest_chart._drawn`) is emptied before every run, so
each turn draws its chart (the frame, the same for every supervisor of the campaign that week,
stays kept).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import insert
from telegram import Bot, Update

from bench.digest_world import CREATED, NOW
from bot.core.turn import Runtime, run_turn
from bot.telegram.adapter import TelegramAdapter, inbound_of
from bot.telegram.channel import TelegramChannel
from bot.telegram.local import TOKEN, RecordingRequest, TgUser, UpdateFactory
from scheduler.digest import compose_digest
from scheduler.digest_chart import _drawn
from storage.db import Database
from storage.models import CHANNEL_TELEGRAM, ChatIdentity, Person
from storage.settings import Settings
from storage.updates import claim_update

USER = 700_001

Timer = Callable[[Callable[[], Awaitable[Any]], int], Awaitable[tuple[float, float]]]
Counter = Callable[[Database, Callable[[], Awaitable[Any]]], Awaitable[int]]


async def measure_turn(
    db: Database, person_id: int, runs: int, timed: Timer, count_queries: Counter
) -> dict[str, float]:
    """Median wall and CPU ms of the whole turn and of its floor, and the turn's statements."""
    async with db.write() as session:
        await session.execute(
            insert(ChatIdentity).values(
                person_id=person_id,
                channel=CHANNEL_TELEGRAM,
                external_id=str(USER),
                chat_id=str(USER),
                language_code="vi",
                bound_at=CREATED,
            )
        )
    request = RecordingRequest(lambda: NOW)
    bot = Bot(TOKEN, request=request, get_updates_request=RecordingRequest(lambda: NOW))
    await bot.initialize()
    runtime = Runtime(
        db=db, clock=lambda: NOW, settings=Settings(telegram_token=TOKEN, _env_file=None)
    )
    updates = UpdateFactory(lambda: NOW)
    user = TgUser(USER)

    async def turn() -> None:
        _drawn.cache_clear()
        update = Update.de_json(updates.text("/tonghop", user), bot)
        inbound = inbound_of(update)
        assert inbound is not None
        await run_turn(runtime, TelegramAdapter(bot, update), inbound)

    async with db.read() as session:
        person = await session.get(Person, person_id)
        assert person is not None
        message = await compose_digest(session, person, NOW)
    assert message is not None and message.photo is not None
    channel = TelegramChannel(bot)

    async def floor() -> None:
        update = Update.de_json(updates.text("/tonghop", user), bot)
        async with db.write() as session:
            await claim_update(
                session=session, channel="bench", update_id=update.update_id, now=NOW
            )
        await channel.send(str(USER), message)

    found: dict[str, float] = {}
    mark = len(request.calls)
    await turn()
    sent = request.since(mark)
    photos = sent.of("sendPhoto")
    assert photos and request.files[-1][1] == message.photo, "the turn sent another chart"
    found["turn_calls"] = len(sent)
    for name, step in (("turn", turn), ("turn_floor", floor)):
        found[name], found[f"{name}_cpu"] = await timed(step, runs)
    found["turn_queries"] = await count_queries(db, turn)
    await bot.shutdown()
    return found
