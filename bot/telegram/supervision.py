"""Supervisor and admin commands: /tonghop (the weekly digest on demand: the same text and chart
as `scheduler.digest`), /thongke (admins: the compact figures of their whole subtree, with the
written paragraph), /donvi CODE (one unit, only inside their scope) and /nhacnho CODE (nudge a
unit's reporters, at most once a day). A unit outside the scope gets the same answer as a unit
that does not exist.

/tonghop checks the role in its turn; the digest is gathered after the turn has committed, in a
read transaction of its own (as /xuat does), then sent as the weekly digest is: the chart, then
the text."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from telegram import Bot, Update

from bot.channels.base import OutgoingMessage
from bot.i18n import t
from bot.narrative import narrative
from bot.telegram.channel import TelegramChannel
from bot.telegram.digest import digest_text
from bot.telegram.onboarding import unit_label
from bot.telegram.render import Say
from bot.telegram.turn import Context, Outcome, Turn, runtime_of, turn_callback
from bot.telegram.unit_view import unit_view_text
from scheduler.digest import digest_data
from storage.access import Scope, can_see_unit, visible_units_condition
from storage.campaigns import list_campaigns
from storage.db import Database
from storage.figures import compute_figures
from storage.models import Campaign, Unit
from storage.reminders import CAMPAIGN_OPEN, NudgeOutcome, nudge_unit
from storage.shortcomings import find_shortcomings
from storage.units import get_unit

NUDGE_KEYS = {
    NudgeOutcome.QUEUED: "telegram.nudge.queued",
    NudgeOutcome.ALREADY_TODAY: "telegram.nudge.already",
    NudgeOutcome.NOTHING_OWED: "telegram.nudge.nothing_owed",
    NudgeOutcome.NO_REPORTER: "telegram.nudge.no_reporter",
}


async def _open_campaigns(turn: Turn) -> list[Campaign]:
    return [c for c in await list_campaigns(session=turn.session) if c.status == CAMPAIGN_OPEN]


async def _digest(turn: Turn, scope: Scope, *, with_narrative: bool) -> list[Say]:
    campaigns = await _open_campaigns(turn)
    if not campaigns:
        return [turn.say("telegram.digest.none")]
    condition = visible_units_condition(scope)
    replies = []
    for campaign in campaigns:
        assert campaign.id is not None
        figures = await compute_figures(
            session=turn.session, campaign_id=campaign.id, as_of=turn.now, unit_filter=condition
        )
        text = digest_text(figures, turn.lang)
        if with_narrative and figures.total.session.expected:
            shortcomings = await find_shortcomings(
                session=turn.session, campaign_id=campaign.id, as_of=turn.now, unit_filter=condition
            )
            text = f"{text}\n\n{narrative(figures, shortcomings, lang=turn.lang)}"
        replies.append(Say(text))
    return replies


@dataclass(frozen=True)
class DigestJob:
    chat_id: int
    person_id: int
    lang: str
    now: datetime


async def send_digest(bot: Bot, db: Database, job: DigestJob) -> None:
    """The person's digest as of `job.now` (read transaction), sent like the weekly one."""
    # Imported here: matplotlib loads only when a digest is actually drawn.
    from bot.chart import render_chart
    from bot.digest_text import render_digest

    async with db.read() as session:
        data = await digest_data(session=session, person_id=job.person_id, now=job.now)
    if data is None:  # no open campaign expects any of the person's units
        message = OutgoingMessage(text=t("telegram.digest.none", job.lang))
    else:
        data = replace(data, lang=job.lang)
        message = OutgoingMessage(text=render_digest(data), photo=render_chart(data))
    await TelegramChannel(bot).send(str(job.chat_id), message)


def digest_callback(name: str) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """/tonghop: one turn (the role check), then, once it has committed, the digest."""

    async def callback(update: Update, context: Context) -> None:
        jobs: list[DigestJob] = []

        async def handler(turn: Turn) -> Outcome:
            if not (turn.scope.is_supervisor or turn.scope.is_admin):
                return Outcome([turn.say("telegram.not_allowed")])
            jobs.append(DigestJob(turn.chat_id, turn.person_id, turn.lang, turn.now))
            return Outcome()

        await turn_callback(name, handler)(update, context)
        for job in jobs:
            await send_digest(context.bot, runtime_of(context).db, job)

    callback.__name__ = f"turn_{name}"
    return callback


async def stats(turn: Turn) -> Outcome:
    if not turn.scope.is_admin:
        return Outcome([turn.say("telegram.admin_only")])
    admin_only = replace(
        turn.scope, supervised_unit_ids=(), supervised_paths=(), reporter_unit_ids=()
    )
    replies = [turn.say("telegram.stats.head")]
    replies.extend(await _digest(turn, admin_only, with_narrative=True))
    return Outcome(replies)


async def _visible_unit(turn: Turn, code: str) -> Unit | None:
    """The unit with this code (exact, else upper case) if the person may see it."""
    unit = await get_unit(session=turn.session, code=code)
    if unit is None and code.upper() != code:
        unit = await get_unit(session=turn.session, code=code.upper())
    if unit is None or not unit.active:
        return None
    if not await can_see_unit(session=turn.session, person_id=turn.person_id, unit=unit):
        return None
    return unit


async def unit(turn: Turn) -> Outcome:
    if not turn.args:
        return Outcome([turn.say("telegram.unit.usage")])
    code = turn.args[0]
    found = await _visible_unit(turn, code)
    if found is None:
        return Outcome([turn.say("telegram.unit.not_visible", code=code)])
    text = await unit_view_text(session=turn.session, unit=found, now=turn.now, lang=turn.lang)
    return Outcome([Say(text)])


async def nudge(turn: Turn) -> Outcome:
    if not (turn.scope.is_supervisor or turn.scope.is_admin):
        return Outcome([turn.say("telegram.not_allowed")])
    if not turn.args:
        return Outcome([turn.say("telegram.nudge.usage")])
    code = turn.args[0]
    found = await _visible_unit(turn, code)
    if found is None or found.id is None:
        return Outcome([turn.say("telegram.unit.not_visible", code=code)])
    result = await nudge_unit(
        session=turn.session, unit_id=found.id, by_person_id=turn.person_id, now=turn.now
    )
    if result is NudgeOutcome.NO_UNIT:
        return Outcome([turn.say("telegram.unit.not_visible", code=code)])
    return Outcome([turn.say(NUDGE_KEYS[result], unit=unit_label(found, turn.lang))])
