"""Which handler a turn runs, the same on every channel:

- a command: `/start` (strangers too: it is how one becomes a person); anyone else without a
  role gets the refusal; a known command runs (`bot.core.commands.registry`; it drops a review
  button's unanswered ask), others get "unknown command";
- a pressed choice: /xuat's campaign choice, a review button (`review_buttons`), else the
  conversation engine;
- typed text: the reason a review button asked for, if one is waiting; an invite code (no
  report open) onboards: from a stranger found anywhere in the message ("Mã của em là k7q4m
  2xp9t ạ", `storage.invites.find_code`), from a known person only when the message is the
  code alone; a stranger without a code gets the refusal; else the engine while a report is
  open, else a hint;
- a photo or file (a Zalo image, a Telegram photo or document) from a reporter: evidence of
  the report in progress once it is confirmed, else of their latest report
  (`bot.core.commands.evidence`);
- anything else that is not text (a sticker, a photo): "please answer in text"."""

from __future__ import annotations

from bot.core.commands import evidence, export, find, reporting, review_buttons, start
from bot.core.commands.common import refusal
from bot.core.io import Outcome
from bot.core.turn import Turn
from storage.invites import find_code, normalise_code


async def dispatch(turn: Turn) -> Outcome:
    inbound = turn.inbound
    if inbound.kind == "command":
        command = find(inbound.command)
        if command is not None and command.strangers:
            return await command.handler(turn)
        if not turn.known:
            return refusal(turn)
        await review_buttons.drop_ask(turn)
        if command is None:
            return Outcome([turn.say_channel("unknown_command")])
        return await command.handler(turn)
    if inbound.kind == "text" and turn.known:
        answered = await review_buttons.reason(turn)  # the reason a review button asked for
        if answered is not None:
            return answered
    if inbound.kind == "text":
        code = normalise_code(inbound.text) if turn.known else find_code(inbound.text)
        if code is not None and not await reporting.draft_open(turn):
            return await start.redeem(turn, code)
    if not turn.known:
        return refusal(turn)
    if inbound.kind == "press":
        if inbound.data.startswith(export.PREFIX):
            return await export.press(turn)
        if inbound.data.startswith(review_buttons.PREFIX):
            return await review_buttons.press(turn)
        return await reporting.press(turn)
    if inbound.kind == "text":
        return await reporting.text(turn)
    if inbound.media is not None and turn.scope.is_reporter:
        return await evidence.received(turn)  # during a form too: held until it is confirmed
    return await reporting.not_text(turn)
