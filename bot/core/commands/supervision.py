"""Supervisor and admin commands: /tonghop (the weekly digest on demand: the same text and chart
as `scheduler.digest`), /thongke (admins: the compact figures of their whole subtree, with the
written paragraph), /donvi CODE (one unit, only inside their scope) and /nhacnho CODE (nudge a
unit's reporters, at most once a day). A unit outside the scope gets the same answer as a unit
that does not exist.

/tonghop checks the role in its turn; the digest itself is a `Job` ("digest", `bot.core.jobs`)
gathered after the commit in a read transaction of its own and sent as the weekly digest is:
the chart, then the text."""

from __future__ import annotations

from functools import partial

from bot.core.commands import Command
from bot.core.commands.common import open_campaigns, unit_label, visible_unit
from bot.core.figures_text import digest_text
from bot.core.io import Job, Outcome, Say
from bot.core.turn import Turn
from bot.core.unit_view import unit_view_text
from bot.narrative import narrative
from bot.web.evidence_links import evidence_url
from scheduler.reminders import NudgeOutcome, nudge_reachable
from storage.access import Scope, admin_scope, visible_units_condition
from storage.answers import fold
from storage.figures import compute_figures
from storage.organisation import organisation_name
from storage.reminders import Contact
from storage.reminders.preferences import CHOICES, escalation_days, set_escalation_days
from storage.shortcomings import find_shortcomings

NUDGE_KEYS = {
    NudgeOutcome.QUEUED: "nudge.queued",
    NudgeOutcome.ALREADY_TODAY: "nudge.already",
    NudgeOutcome.NOTHING_OWED: "nudge.nothing_owed",
    NudgeOutcome.NO_REPORTER: "nudge.no_reporter",
}


async def _figures(turn: Turn, scope: Scope) -> list[Say]:
    campaigns = await open_campaigns(turn)
    if not campaigns:
        return [turn.say("digest.brief.none")]
    condition = visible_units_condition(scope)
    replies = []
    for campaign in campaigns:
        assert campaign.id is not None
        figures = await compute_figures(
            session=turn.session, campaign_id=campaign.id, as_of=turn.now, unit_filter=condition
        )
        text = digest_text(figures, turn.lang)
        if figures.total.unit_session.expected:
            shortcomings = await find_shortcomings(
                session=turn.session, campaign_id=campaign.id, as_of=turn.now, unit_filter=condition
            )
            organisation = organisation_name(turn.runtime.settings, turn.lang)
            paragraph = narrative(figures, shortcomings, lang=turn.lang, organisation=organisation)
            text = f"{text}\n\n{paragraph}"
        replies.append(Say(text))
    return replies


async def digest(turn: Turn) -> Outcome:
    """/tonghop: the role check now; the digest (with its chart) after the commit."""
    if not (turn.scope.is_supervisor or turn.scope.is_admin):
        return Outcome([turn.say("cmd.not_allowed")])
    return Outcome(jobs=[Job("digest", {})])


async def stats(turn: Turn) -> Outcome:
    if not turn.scope.is_admin:
        return Outcome([turn.say("cmd.admin_only")])
    replies = [turn.say("stats.head")]
    replies.extend(await _figures(turn, admin_scope(turn.scope)))
    return Outcome(replies)


async def unit(turn: Turn) -> Outcome:
    if not turn.args:
        return Outcome([turn.say("unit.usage")])
    code = turn.args[0]
    found = await visible_unit(turn, code)
    if found is None:
        return Outcome([turn.say("unit.not_visible", code=code)])
    settings = turn.runtime.settings
    link = (
        partial(evidence_url, settings, person_id=turn.person_id, now=turn.now)
        if settings.web_url
        else None
    )
    text = await unit_view_text(
        session=turn.session, unit=found, now=turn.now, lang=turn.lang, link=link
    )
    return Outcome([Say(text)])


async def nudge(turn: Turn) -> Outcome:
    if not (turn.scope.is_supervisor or turn.scope.is_admin):
        return Outcome([turn.say("cmd.not_allowed")])
    if not turn.args:
        return Outcome([turn.say("nudge.usage")])
    if fold(turn.args[0]) in SETTINGS_WORDS:
        return await nudge_settings(turn)
    code = turn.args[0]
    found = await visible_unit(turn, code)
    if found is None or found.id is None:
        return Outcome([turn.say("unit.not_visible", code=code)])
    label = unit_label(found, turn.lang)
    reply_to = await nudge_reachable(
        session=turn.session, unit_id=found.id, by_person_id=turn.person_id, now=turn.now
    )
    result, offline = reply_to.outcome, reply_to.offline
    if result is NudgeOutcome.NOT_CONNECTED:
        # Nobody to reach in chat: say so, and who to call instead (never "Đã gửi").
        return Outcome([turn.say("nudge.not_connected", unit=label, who=_who(turn, offline))])
    if result is NudgeOutcome.NO_UNIT:
        return Outcome([turn.say("unit.not_visible", code=code)])
    reply = turn.say(NUDGE_KEYS[result], unit=label)
    if offline and result.queued:  # one message: what was sent, and whom to call
        more = turn.say("nudge.some_offline", who=_who(turn, offline))
        reply = Say(f"{reply.text}\n{more.text}")
    return Outcome([reply])


SETTINGS_WORDS = frozenset({"caidat", "cai-dat", "settings"})
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days_text(turn: Turn, days: tuple[int, ...] | frozenset[int] | None) -> str:
    if days is None:
        return turn.say("nudge.days.campaign").text
    names = [turn.say(f"nudge.day.{WEEKDAY_KEYS[d]}").text for d in sorted(days)]
    return turn.say("nudge.days.and").text.join(names)


async def nudge_settings(turn: Turn) -> Outcome:
    """/nhacnho caidat [N]: which weekdays the overdue lists come on (numbered choices, typed as
    a number after the command on every channel)."""
    current = await escalation_days(session=turn.session, person_ids=[turn.person_id])
    options = "; ".join(
        f"{n} — {_days_text(turn, days)}" for n, days in enumerate(CHOICES, start=1)
    )
    choice = turn.args[1] if len(turn.args) > 1 else ""
    if not choice:
        now = _days_text(turn, current.get(turn.person_id))
        return Outcome([turn.say("nudge.settings", current=now, options=options)])
    if not choice.isdigit() or not 1 <= int(choice) <= len(CHOICES):
        return Outcome([turn.say("nudge.settings_bad", options=options)])
    days = CHOICES[int(choice) - 1]
    await set_escalation_days(session=turn.session, person_id=turn.person_id, days=days)
    return Outcome([turn.say("nudge.settings_saved", days=_days_text(turn, days))])


def _who(turn: Turn, contacts: list[Contact]) -> str:
    """ "Nguyễn Văn A (0912 345 678)"; a missing phone is said so."""
    return "; ".join(
        turn.say("nudge.contact", name=c.full_name, phone=c.phone).text
        if c.phone
        else turn.say("nudge.contact_no_phone", name=c.full_name).text
        for c in contacts
    )


COMMANDS = (
    Command("tonghop", ("digest",), digest),
    Command("thongke", ("stats",), stats),
    Command("donvi", ("unit",), unit),
    Command("nhacnho", ("remind",), nudge),
)
