"""/dot lists the campaigns, numbered; /dot mo N|REF and /dot dong N|REF open or close one (by
its number in the list or its reference, e.g. `/dot dong 2`, `/dot dong 13-KH/TU`). Admins
only; a campaign outside the admin's subtrees gets the answer of one that does not exist;
every change is audited by `storage.campaign_status`."""

from __future__ import annotations

from bot.core.commands.common import refusal
from bot.core.io import Outcome, Say
from bot.core.turn import Turn
from storage.access import admin_scope
from storage.campaign_status import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPEN,
    may_manage,
    set_campaign_status,
    status_label,
)
from storage.campaigns import get_campaign, list_campaigns
from storage.i18n import t
from storage.i18n.formatting import date_text
from storage.models import Campaign

OPEN_WORDS = {"mo", "mở", "open"}
CLOSE_WORDS = {"dong", "đóng", "ketthuc", "kếtthúc", "close"}


def _listing(turn: Turn, rows: list[Campaign]) -> Outcome:
    if not rows:
        return Outcome([turn.say("admin.campaigns.empty")])
    lines = [t("admin.campaigns.head", turn.lang)]
    lines += [
        t(
            "admin.campaigns.line",
            turn.lang,
            n=n,
            reference=c.reference,
            name=c.name,
            status=status_label(c.status, turn.lang),
            start=date_text(c.start_date, turn.lang),
        )
        for n, c in enumerate(rows, 1)
    ]
    lines.append(t("admin.campaigns.hint", turn.lang))
    return Outcome([Say("\n".join(lines))])


async def _named(turn: Turn, rows: list[Campaign], name: str) -> Campaign | None:
    """The campaign a typed argument names: its number in the list, else its reference."""
    if name.isdigit() and 1 <= int(name) <= len(rows):
        return rows[int(name) - 1]
    return await get_campaign(session=turn.session, campaign_id_or_reference=name)


async def campaigns(turn: Turn) -> Outcome:
    scope = admin_scope(turn.scope)
    if not scope.is_admin:
        return refusal(turn)
    rows = list(await list_campaigns(session=turn.session))
    if not turn.args:
        return _listing(turn, rows)
    verb = turn.args[0].lower()
    if len(turn.args) != 2 or verb not in OPEN_WORDS | CLOSE_WORDS:
        return Outcome([turn.say("admin.campaigns.usage")])
    name = turn.args[1]
    campaign = await _named(turn, rows, name)
    if (
        campaign is None
        or campaign.id is None
        or not await may_manage(session=turn.session, scope=scope, campaign=campaign)
    ):
        return Outcome([turn.say("admin.campaigns.not_found", reference=name)])
    status = CAMPAIGN_OPEN if verb in OPEN_WORDS else CAMPAIGN_CLOSED
    change = await set_campaign_status(
        session=turn.session,
        campaign_id=campaign.id,
        status=status,
        now=turn.now,
        actor_person_id=turn.person_id,
        channel=turn.channel,
    )
    assert change is not None
    if not change.changed:
        return Outcome(
            [turn.say(f"admin.campaigns.already.{status}", reference=campaign.reference)]
        )
    key = "admin.campaigns.opened" if status == CAMPAIGN_OPEN else "admin.campaigns.closed"
    return Outcome([turn.say(key, reference=campaign.reference, name=campaign.name)])
