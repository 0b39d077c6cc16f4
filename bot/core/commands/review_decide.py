"""One review decision as every channel says it: /duyet typed (`bot.core.commands.review`), a
Telegram button or the reason asked for after one (`bot.core.commands.review_buttons`). Every
check is `storage.review`'s; this module only says the outcome and offers the next buttons."""

from __future__ import annotations

from bot.core.io import Choice, Outcome, Say
from bot.core.turn import Turn
from storage.i18n.formatting import name_in
from storage.review import (
    ReviewItem,
    ReviewRefused,
    approve_report,
    reopen_report,
    return_report,
)

PREFIX = "dy:"
# action <-> the letter in a button's data: `dy:<letter>:<report id>:<version id>`
LETTERS = {"approve": "a", "return": "r", "reopen": "o"}


def is_reviewer(turn: Turn) -> bool:
    return turn.scope.is_supervisor or turn.scope.is_admin


def label(turn: Turn, item: ReviewItem) -> dict[str, object]:
    return {
        "number": item.report_id,
        "unit": turn.say("unit.label", name=item.unit.name, code=item.unit.code).text,
        "deliverable": name_in(item.deliverable, turn.lang),
        "version": item.version.version,
    }


def button(turn: Turn, action: str, item: ReviewItem) -> Choice:
    """A button for `action` on the item's current version (never user text in the data)."""
    data = f"{PREFIX}{LETTERS[action]}:{item.report_id}:{item.version.id}"
    return Choice(turn.say(f"review.button.{action}", number=item.report_id).text, data)


async def decide(
    turn: Turn, action: str, number: int, reason: str | None, version_id: int | None = None
) -> Outcome:
    """Make the decision and say it; an approval offers the reopen button (Telegram)."""
    s, scope, channel, now = turn.session, turn.scope, turn.channel, turn.now
    try:
        if action == "approve":
            item = await approve_report(
                session=s, scope=scope, report_id=number, channel=channel, now=now,
                version_id=version_id,
            )  # fmt: skip
        else:
            act = return_report if action == "return" else reopen_report
            item = await act(
                session=s, scope=scope, report_id=number, reason=reason, channel=channel,
                now=now, version_id=version_id,
            )  # fmt: skip
    except ReviewRefused as refused:
        return Outcome([turn.say(refused.key, **refused.params)])
    said = item.version.review_reason or ""
    text = turn.say(f"review.done.{action}", **label(turn, item), reason=said).text
    buttons = ((button(turn, "reopen", item),),) if action == "approve" else ()
    return Outcome([Say(text, buttons, numbered=False, typed=True)])
