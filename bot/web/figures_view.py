"""The figures a dashboard or unit page shows, from the set-based queries of `storage.figures`:
one statement for the area's own figures and one for all its units' rows together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from storage.access import Scope
from storage.campaign_status import CAMPAIGN_OPEN
from storage.campaigns import list_campaigns
from storage.figures import (
    CampaignContext,
    Figures,
    GroupFigures,
    UnitScope,
    compute_figures,
    compute_figures_many,
    load_campaign,
)
from storage.i18n.formatting import levels_phrase
from storage.models import Campaign, Unit


@dataclass(frozen=True)
class Group:
    label: str
    figures: GroupFigures


@dataclass(frozen=True)
class UnitRow:
    unit: Unit
    figures: GroupFigures


async def pick_campaign(
    session: AsyncSession, request: Request
) -> tuple[list[Campaign], Campaign | None]:
    """Every campaign, and the one asked for (`?c=<id>`), else the first open one."""
    campaigns = await list_campaigns(session=session)
    wanted = request.query_params.get("c", "")
    for campaign in campaigns:
        if wanted.isdigit() and campaign.id == int(wanted):
            return campaigns, campaign
    open_ = [c for c in campaigns if c.status == CAMPAIGN_OPEN]
    return campaigns, (open_[0] if open_ else campaigns[0] if campaigns else None)


def _capital(label: str) -> str:
    return label[:1].upper() + label[1:]


def groups(figures: Figures, lang: str) -> list[Group]:
    """The campaign's reporting groups and the levels no group holds (or one per level), then
    all levels together; unit counts count every expected unit (`GroupFigures.units`)."""
    parts = list(figures.table_groups)
    rows = [Group(_capital(levels_phrase(g.levels, lang)), g) for g in parts if g.expected_units]
    if len(rows) != 1:
        rows.append(Group("", figures.total))
    return rows


def unit_scope(scope: Scope, unit: Unit) -> UnitScope:
    """What a unit's row counts: its subtree, or only the unit for a reporter's own unit."""
    if scope.whole_tree or any(unit.path.startswith(root) for root in scope.subtree_roots):
        return UnitScope(paths=(unit.path,))
    return UnitScope(unit_ids=(unit.id,) if unit.id is not None else ())


@dataclass(frozen=True)
class Area:
    figures: Figures
    rows: list[UnitRow]


async def area_and_rows(
    session: AsyncSession,
    ctx: CampaignContext,
    now: datetime,
    *,
    area: UnitScope,
    rows: Sequence[tuple[Unit, UnitScope]],
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    week: bool = False,
) -> Area:
    """The area's figures (`compute_figures` over `root_path` / `unit_filter`, which must select
    exactly `area`; with the week-earlier ones on request) and one row per unit, all the rows
    from ONE `compute_figures_many` statement. A row that is the whole area (one followed
    district, one province) takes the area's figures. The area is never summed from its rows:
    a pooled figure depends on which owners the same scope counts (`storage.figures.overlap`)."""
    figures = await compute_figures(
        session=session,
        campaign_id=ctx.id,
        as_of=now,
        root_path=root_path,
        unit_filter=unit_filter,
        with_previous=week,
        context=ctx,
    )
    others = {i: scope for i, (_, scope) in enumerate(rows) if scope != area}
    many = (
        await compute_figures_many(
            session=session, campaign_id=ctx.id, as_of=now, scopes=others, context=ctx
        )
        if others
        else {}
    )
    return Area(
        figures,
        [
            UnitRow(u, many[i].total if i in many else figures.total)
            for i, (u, _) in enumerate(rows)
        ],
    )


async def context_of(
    session: AsyncSession, campaign: Campaign, approved_only: bool = False
) -> CampaignContext:
    """The campaign's figure context, over every confirmed report or approved ones only."""
    assert campaign.id is not None
    return await load_campaign(
        session=session, campaign_id=campaign.id, approved_only=approved_only
    )
