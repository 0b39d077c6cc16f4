"""What several commands share: the unit label, scope narrowing, unit lookup, open campaigns."""

from __future__ import annotations

from dataclasses import replace

from bot.core.io import Outcome
from bot.core.turn import Turn
from storage.access import Scope, can_see_unit
from storage.campaign_status import CAMPAIGN_OPEN
from storage.campaigns import list_campaigns
from storage.i18n import t
from storage.models import Campaign, Unit
from storage.units import get_unit


def unit_label(unit: Unit, lang: str) -> str:
    return t("unit.label", lang, name=unit.name, code=unit.code)


def export_scope(scope: Scope) -> Scope:
    """Admin subtrees and followed units (a reporter's own unit is not exportable)."""
    return replace(scope, reporter_unit_ids=())


def refusal(turn: Turn) -> Outcome:
    """For anyone without a person or the role: says nothing about units, people or figures."""
    if turn.inbound.kind == "press":
        return Outcome(answer=t("cmd.refused", turn.lang))
    return Outcome([turn.say_channel("refusal")])


async def find_unit(turn: Turn, code: str) -> Unit | None:
    """The active unit with this code (exact, else upper case)."""
    unit = await get_unit(session=turn.session, code=code)
    if unit is None and code.upper() != code:
        unit = await get_unit(session=turn.session, code=code.upper())
    if unit is None or not unit.active:
        return None
    return unit


async def unit_in(turn: Turn, scope: Scope, code: str) -> Unit | None:
    """The active unit with this code if `scope` sees it (else None, as for no such unit)."""
    unit = await find_unit(turn, code)
    return unit if unit is not None and scope.sees(unit) else None


async def visible_unit(turn: Turn, code: str) -> Unit | None:
    """The active unit with this code if the person may see it."""
    unit = await find_unit(turn, code)
    if unit is None:
        return None
    if not await can_see_unit(session=turn.session, person_id=turn.person_id, unit=unit):
        return None
    return unit


def not_found(turn: Turn, code: str) -> Outcome:
    return Outcome([turn.say("admin.unit.not_found", code=code)])


async def open_campaigns(turn: Turn) -> list[Campaign]:
    return [c for c in await list_campaigns(session=turn.session) if c.status == CAMPAIGN_OPEN]
