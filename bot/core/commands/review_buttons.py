"""Telegram's review buttons and the reason asked for after one.

A button's data is `dy:<a|r|o>:<report id>:<version id>` (approve, return, reopen), written by
`bot.core.commands.review_decide.button`; it carries no user text and grants nothing: a press
is checked again like a typed /duyet (the scope as it is now, the state, not one's own report)
and also against the version it was offered for, so a replayed or forged press (another
district's report, tampered data, a version already decided or superseded) is refused in
Vietnamese and changes nothing.

"Duyệt" decides at once. "Trả lại" and "Mở lại" need a reason: the press is checked, then
the bot asks for the reason and the person's next typed message is it (`storage.review_asks`;
a command instead of the reason drops the ask)."""

from __future__ import annotations

import re

from bot.core.commands.review_decide import LETTERS, PREFIX, decide, is_reviewer
from bot.core.io import Outcome
from bot.core.turn import Turn
from storage import review_asks
from storage.models import ReportVersion
from storage.review import REASON_MAX, ReviewRefused, check_decision

DATA = re.compile(rf"^{PREFIX}([aro]):([0-9]{{1,12}}):([0-9]{{1,12}})$")
ACTIONS = {letter: action for action, letter in LETTERS.items()}


async def press(turn: Turn) -> Outcome:
    if not is_reviewer(turn):
        return Outcome([turn.say("review.not_allowed")], answer="")
    match = DATA.fullmatch(turn.inbound.data)
    if match is None:
        return Outcome([turn.say("review.button.bad")], answer="")
    action, number, version_id = ACTIONS[match[1]], int(match[2]), int(match[3])
    if action == "approve":
        outcome = await decide(turn, action, number, None, version_id=version_id)
        outcome.answer = ""
        return outcome
    try:
        await check_decision(
            session=turn.session,
            scope=turn.scope,
            report_id=number,
            action=action,
            version_id=version_id,
        )
    except ReviewRefused as refused:
        return Outcome([turn.say(refused.key, **refused.params)], answer="")
    await review_asks.ask(
        session=turn.session,
        person_id=turn.person_id,
        version_id=version_id,
        action=action,
        now=turn.now,
    )
    return Outcome([turn.say(f"review.ask.{action}", number=number, limit=REASON_MAX)], answer="")


async def reason(turn: Turn) -> Outcome | None:
    """A typed message that answers an ask: the decision with it as the reason (None: no ask
    waiting, the message is something else)."""
    if not is_reviewer(turn):
        return None
    ask = await review_asks.take(session=turn.session, person_id=turn.person_id, now=turn.now)
    if ask is None:
        return None
    version = await turn.session.get(ReportVersion, ask.version_id)
    if version is None:
        return None
    outcome = await decide(
        turn, ask.action, version.report_id, turn.inbound.text, version_id=ask.version_id
    )
    if _too_long(turn, outcome):  # the same question stays open: the next message may fit
        await review_asks.ask(
            session=turn.session,
            person_id=turn.person_id,
            version_id=ask.version_id,
            action=ask.action,
            now=turn.now,
        )
    return outcome


def _too_long(turn: Turn, outcome: Outcome) -> bool:
    refused = turn.say("review.reason_too_long", limit=REASON_MAX).text
    return len(outcome.replies) == 1 and outcome.replies[0].text == refused


async def drop_ask(turn: Turn) -> None:
    """A command instead of the reason: the question lapses."""
    if is_reviewer(turn) and turn.person is not None:
        await review_asks.drop(session=turn.session, person_id=turn.person_id)
