"""Reporter commands, typed answers and pressed choices, handed to the conversation engine.

Commands always go to the engine (it refuses people who report for no unit). Typed text goes to
the engine only while the person has a draft open; otherwise a hint. A press goes to the engine
for a reporter; a press the engine finds stale (an old message, a second press, forged data)
gets a short answer on the button itself and no message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.conversation import Actor, Input, Reply
from bot.core.commands import Command, Handler
from bot.core.io import Outcome
from bot.core.turn import Turn
from storage.answer_words import typed_command
from storage.answers import fold
from storage.i18n import t

# Vietnamese name, English alias, the engine's canonical command.
ENGINE_COMMANDS = (
    ("baocao", "report", "report"),
    ("capnhat", "update", "update"),
    ("tinhtrang", "status", "status"),
    ("huy", "cancel", "cancel"),
)


def _actor(turn: Turn) -> Actor:
    return Actor(
        person_id=turn.person_id,
        lang=turn.lang,
        channel=turn.channel,
        scope=turn.scope,
        preloaded=turn.preloaded,
    )


async def _handle(turn: Turn, inp: Input) -> list[Reply]:
    engine: Any = turn.runtime.conversation()
    actor = _actor(turn)
    turn.preloaded = None  # the engine may change the draft
    replies: list[Reply] = await engine.handle(
        session=turn.session, actor=actor, inp=inp, now=turn.now
    )
    return replies


async def draft_open(turn: Turn) -> bool:
    if not turn.known:
        return False
    if turn.preloaded is not None:  # read with the turn, unchanged since
        return turn.preloaded.draft is not None
    engine: Any = turn.runtime.conversation()
    return bool(await engine.has_open_draft(session=turn.session, person_id=turn.person_id))


def _engine_command(command: str) -> Handler:
    async def handler(turn: Turn) -> Outcome:
        inp = Input(kind="command", command=command, args=" ".join(turn.args))
        return Outcome(await _handle(turn, inp))

    return handler


COMMANDS = tuple(Command(vi, (en,), _engine_command(canon)) for vi, en, canon in ENGINE_COMMANDS)


def no_draft(turn: Turn) -> Outcome:
    return Outcome([turn.say_channel("no_draft" if turn.scope.is_reporter else "no_draft.other")])


_TYPED = {vi: canon for vi, _en, canon in ENGINE_COMMANDS}


async def text(turn: Turn) -> Outcome:
    if not await draft_open(turn):
        # "báo cáo", "Bao cao ạ": the command typed as words, without its slash.
        typed = turn.inbound.text
        name = typed_command(fold(typed)) if len(typed) <= 40 else None
        if name in _TYPED:
            return Outcome(await _handle(turn, Input(kind="command", command=_TYPED[name])))
        return no_draft(turn)
    return Outcome(await _handle(turn, Input(kind="text", text=turn.inbound.text)))


async def not_text(turn: Turn) -> Outcome:
    """A sticker, photo, file, voice ... where the bot expects words."""
    if not await draft_open(turn):
        return no_draft(turn)
    return Outcome([turn.say_channel("text_only")])


def _is_stale(replies: Sequence[Reply], lang: str) -> bool:
    return len(replies) == 1 and not replies[0].choices and replies[0].text == t("conv.stale", lang)


async def press(turn: Turn) -> Outcome:
    stale = t("callback.stale", turn.lang)
    data = turn.inbound.data
    if not turn.scope.is_reporter or not data:
        return Outcome(answer=stale)
    replies = await _handle(turn, Input(kind="choice", data=data))
    if _is_stale(replies, turn.lang):
        return Outcome(answer=replies[0].text)
    return Outcome(replies, answer="", clear_keyboard=True)
