"""/duyet: a reviewer's list of reports awaiting review and the decisions on them, the same
on every channel (typed: Zalo has no buttons, and the report number is stable where a list
position is not).

    /duyet                      the pending reports in the reviewer's scope, by report number
    /duyet SỐ                   approve report SỐ (its current version; locked from then on)
    /duyet tralai SỐ lý do      return it with the reason (refused without one)
    /duyet mo SỐ lý do          reopen an approved report (with the reason)

On Telegram the list carries buttons too (`bot.core.commands.review_buttons`: Duyệt / Trả lại
per report, Mở lại on an approval); Zalo reads the typed commands. A report outside the scope
gets the same answer as a report that does not exist (`storage.review`). The reporters are told
through the outbox, once per decision."""

from __future__ import annotations

from bot.core.commands import Command
from bot.core.commands.review_decide import button, decide, is_reviewer, label
from bot.core.io import Outcome, Say
from bot.core.turn import Turn
from storage.answers import fold
from storage.clock import local_date
from storage.i18n.formatting import date_text
from storage.review import pending_reviews

SHOWN = 20
RETURN_WORDS = ("tralai", "return")
REOPEN_WORDS = ("mo", "molai", "reopen")


async def _list(turn: Turn) -> Outcome:
    items = await pending_reviews(session=turn.session, scope=turn.scope, limit=SHOWN + 1)
    if not items:
        return Outcome([turn.say("review.list.none")])
    lines = [turn.say("review.list.head", count=len(items) if len(items) <= SHOWN else f"{SHOWN}+")]
    for item in items[:SHOWN]:
        day = local_date(item.version.created_at, item.campaign.timezone)
        lines.append(
            turn.say("review.list.item", **label(turn, item), date=date_text(day, turn.lang))
        )
    if len(items) > SHOWN:
        lines.append(turn.say("review.list.more", count=len(items) - SHOWN))
    lines.append(turn.say("review.list.how", number=items[0].report_id))
    buttons = tuple(
        (button(turn, "approve", item), button(turn, "return", item)) for item in items[:SHOWN]
    )
    return Outcome(
        [Say("\n".join(line.text for line in lines), buttons, numbered=False, typed=True)]
    )


def _words(args: list[str]) -> tuple[str, list[str]]:
    """The action word (folded; "trả lại" / "mở lại" typed as two words too) and the rest."""
    folded = [fold(a).strip() for a in args]
    if len(folded) > 1 and folded[1] == "lai" and folded[0] in ("tra", "mo"):
        return folded[0] + "lai", args[2:]
    return folded[0], args[1:]


async def review(turn: Turn) -> Outcome:
    if not is_reviewer(turn):
        return Outcome([turn.say("review.not_allowed")])
    if not turn.args:
        return await _list(turn)
    word, rest = _words(turn.args)
    if word.isdigit() and not rest:
        action, number, reason = "approve", int(word), None
    elif word in RETURN_WORDS + REOPEN_WORDS and rest and rest[0].isdigit():
        action = "return" if word in RETURN_WORDS else "reopen"
        number, reason = int(rest[0]), " ".join(rest[1:])
    else:
        return Outcome([turn.say("review.usage")])
    return await decide(turn, action, number, reason)


COMMANDS = (Command("duyet", ("review",), review),)
