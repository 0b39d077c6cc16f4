"""/xuat [UNIT_CODE] [CAMPAIGN_REF]: the XLSX workbook of one subtree (`root_path`), for admins
(their subtrees) and supervisors (the units they follow; one who follows several names one).

The turn checks the scope and writes the audit row; the workbook itself is a `Job` ("export",
`bot.core.jobs`) written after the commit in a read transaction of its own (a large export must
not hold the write lock). Telegram uploads it; Zalo, which cannot upload files, sends a
short-lived signed download link (`bot.zalo.downloads`). With several open campaigns the
answer lists them, each with the command to type (and a button where the channel has them)."""

from __future__ import annotations

import re

from bot.core.commands.common import (
    export_scope,
    not_found,
    open_campaigns,
    refusal,
    unit_in,
    unit_label,
)
from bot.core.io import Choice, Job, Outcome, Say
from bot.core.turn import Turn
from storage.access import Scope
from storage.assignments import units_by_ids
from storage.audit import record
from storage.campaigns import get_campaign
from storage.clock import local_date
from storage.i18n import t
from storage.models import Campaign, Unit

PREFIX = "xuat:"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


async def _default_root(turn: Turn, scope: Scope) -> tuple[bool, Unit | None]:
    """The subtree to export when no unit is named: (True, None) for the whole tree, (True,
    unit) for the one unit the person is in charge of, (False, None) when there are several."""
    if scope.whole_tree:
        return True, None
    roots = scope.subtree_roots
    if len(roots) != 1:
        return False, None
    ids = dict(
        zip(
            [*scope.admin_paths, *scope.supervised_paths],
            [*scope.admin_unit_ids, *scope.supervised_unit_ids],
            strict=True,
        )
    )
    [unit] = await units_by_ids(session=turn.session, unit_ids=[ids[roots[0]]])
    return True, unit


async def _job(turn: Turn, campaign: Campaign, unit: Unit | None) -> Job:
    assert campaign.id is not None
    await record(
        session=turn.session,
        now=turn.now,
        channel=turn.channel,
        action="export.xlsx",
        entity="campaign",
        entity_id=campaign.id,
        actor_person_id=turn.person_id,
        new={"unit_id": unit.id if unit is not None else None},
    )
    day = local_date(turn.now, campaign.timezone)
    part = unit.code if unit is not None else "toan-bo"
    return Job(
        "export",
        {
            "campaign_id": campaign.id,
            "reference": campaign.reference,
            "name": campaign.name,
            "timezone": campaign.timezone,
            "root_path": unit.path if unit is not None else None,
            "where": unit_label(unit, turn.lang)
            if unit is not None
            else t("admin.export.whole", turn.lang),
            "filename": f"{_safe(campaign.reference)}_{_safe(part)}_{day.isoformat()}.xlsx",
        },
    )


def _choose(turn: Turn, campaigns: list[Campaign], unit: Unit | None) -> Outcome:
    unit_id = unit.id if unit is not None else 0
    lines = [t("admin.export.choose", turn.lang)]
    for c in campaigns:
        command = f"/xuat {unit.code} {c.reference}" if unit is not None else f"/xuat {c.reference}"
        lines.append(
            t("admin.export.type", turn.lang, command=command, reference=c.reference, name=c.name)
        )
    buttons = tuple(
        (
            Choice(
                t("admin.export.button", turn.lang, reference=c.reference, name=c.name),
                f"{PREFIX}{c.id}:{unit_id}",
            ),
        )
        for c in campaigns
    )
    return Outcome([Say("\n".join(lines), buttons, numbered=False, typed=True)])


async def export(turn: Turn) -> Outcome:
    """/xuat [UNIT_CODE] [CAMPAIGN_REF], in any order: an argument that is a campaign's
    reference names the campaign, the other one the unit."""
    scope = export_scope(turn.scope)
    if scope.is_empty:
        return refusal(turn)
    campaign: Campaign | None = None
    codes: list[str] = []
    for arg in turn.args:
        found = await get_campaign(session=turn.session, campaign_id_or_reference=arg)
        if campaign is None and found is not None and found.reference == arg:
            campaign = found
        else:
            codes.append(arg)
    if len(codes) > 1:
        return Outcome([turn.say("admin.export.usage")])
    unit: Unit | None
    if codes:
        unit = await unit_in(turn, scope, codes[0])
        if unit is None:
            return not_found(turn, codes[0])
    else:
        known, unit = await _default_root(turn, scope)
        if not known:
            return Outcome([turn.say("admin.export.pick_unit")])
    if campaign is None:
        open_ = await open_campaigns(turn)
        if not open_:
            return Outcome([turn.say("admin.export.no_campaign")])
        if len(open_) > 1:
            return _choose(turn, open_, unit)
        campaign = open_[0]
    return Outcome(jobs=[await _job(turn, campaign, unit)])


async def press(turn: Turn) -> Outcome:
    """A press on a campaign button of /xuat: `xuat:<campaign id>:<unit id or 0>`, checked
    again against the scope as it is now."""
    scope = export_scope(turn.scope)
    if scope.is_empty:
        return refusal(turn)
    stale = Outcome(answer=t("admin.export.stale", turn.lang))
    match = re.fullmatch(rf"{PREFIX}(\d+):(\d+)", turn.inbound.data)
    if match is None:
        return stale
    campaign = await get_campaign(session=turn.session, campaign_id_or_reference=int(match[1]))
    if campaign is None:
        return stale
    unit: Unit | None = None
    if int(match[2]):
        found = await units_by_ids(session=turn.session, unit_ids=[int(match[2])])
        if not found or not found[0].active or not scope.sees(found[0]):
            return stale
        unit = found[0]
    else:
        known, unit = await _default_root(turn, scope)
        if not known:
            return stale
    outcome = Outcome(answer="", clear_keyboard=True)
    outcome.jobs.append(await _job(turn, campaign, unit))
    return outcome
