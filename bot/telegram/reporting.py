"""Reporter commands, typed answers and button presses, handed to the conversation engine.

Commands always go to the engine (it refuses people who report for no unit). Typed text goes to
the engine only while the person has a draft open; otherwise a hint. A press goes to the engine
for a reporter; a press the engine finds stale (an old message, a second press, forged data)
gets a short answer on the button itself and no message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.engine import Actor, Input, Reply
from bot.i18n import t
from bot.telegram.turn import Handler, Outcome, Turn
from storage.models import CHANNEL_TELEGRAM

# Command names as Telegram users type them -> the engine's canonical names.
ENGINE_COMMANDS = {
    "baocao": "report",
    "report": "report",
    "capnhat": "update",
    "update": "update",
    "tinhtrang": "status",
    "status": "status",
    "huy": "cancel",
    "cancel": "cancel",
}


class Engine(Protocol):
    """What the adapter uses of `bot.conversation.engine.ConversationEngine`."""

    async def handle(
        self, *, session: AsyncSession, actor: Actor, inp: Input, now: datetime
    ) -> list[Reply]: ...

    async def has_open_draft(self, *, session: AsyncSession, person_id: int) -> bool: ...


def _engine(turn: Turn) -> Engine:
    engine: Engine = turn.runtime.engine
    return engine


def _actor(turn: Turn) -> Actor:
    return Actor(
        person_id=turn.person_id, lang=turn.lang, channel=CHANNEL_TELEGRAM, scope=turn.scope
    )


async def _handle(turn: Turn, inp: Input) -> list[Reply]:
    return await _engine(turn).handle(
        session=turn.session, actor=_actor(turn), inp=inp, now=turn.now
    )


def engine_command(command: str) -> Handler:
    async def handler(turn: Turn) -> Outcome:
        replies = await _handle(
            turn, Input(kind="command", command=command, args=" ".join(turn.args))
        )
        return Outcome(replies)

    return handler


def _no_draft(turn: Turn) -> Outcome:
    key = "telegram.no_draft" if turn.scope.is_reporter else "telegram.no_draft.other"
    return Outcome([turn.say(key)])


async def _draft_open(turn: Turn) -> bool:
    return await _engine(turn).has_open_draft(session=turn.session, person_id=turn.person_id)


async def text(turn: Turn) -> Outcome:
    message = turn.update.effective_message
    typed = message.text if message is not None and message.text is not None else ""
    if not await _draft_open(turn):
        return _no_draft(turn)
    return Outcome(await _handle(turn, Input(kind="text", text=typed)))


async def not_text(turn: Turn) -> Outcome:
    """A sticker, photo, file, voice ... where the bot expects words."""
    if not await _draft_open(turn):
        return _no_draft(turn)
    return Outcome([turn.say("telegram.text_only")])


def _is_stale(replies: Sequence[Reply], lang: str) -> bool:
    return len(replies) == 1 and not replies[0].choices and replies[0].text == t("conv.stale", lang)


async def press(turn: Turn) -> Outcome:
    query = turn.update.callback_query
    assert query is not None
    stale = t("telegram.callback.stale", turn.lang)
    if not turn.scope.is_reporter or not query.data:
        return Outcome(answer=stale)
    replies = await _handle(turn, Input(kind="choice", data=query.data))
    if _is_stale(replies, turn.lang):
        return Outcome(answer=replies[0].text)
    return Outcome(replies, answer="", clear_keyboard=True)
