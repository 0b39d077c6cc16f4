"""A campaign's status, its one owner: open or closed, which campaigns are open (for a unit), and
opening and closing (audited). Only an open campaign is offered for reporting, reminded and
digested."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.access import Scope
from storage.audit import AuditTrail
from storage.clock import require_aware
from storage.i18n import MissingMessage, t
from storage.models import Campaign, Unit
from storage.tree import is_within, path_ids

CAMPAIGN_OPEN = "open"
CAMPAIGN_CLOSED = "closed"
STATUSES = (CAMPAIGN_OPEN, CAMPAIGN_CLOSED)


def status_label(status: str, lang: str = "vi") -> str:
    """The status as a cadre reads it ("Đang mở", "Đã kết thúc"); an unknown one as stored."""
    try:
        return t(f"campaign.status.{status}", lang)
    except MissingMessage:
        return status


def is_open(campaign: Campaign) -> bool:
    return campaign.status == CAMPAIGN_OPEN


def open_condition() -> ColumnElement[bool]:
    """`campaign.status = 'open'`, for queries that join the campaign."""
    return col(Campaign.status) == CAMPAIGN_OPEN


def covers_unit(unit: Unit) -> ColumnElement[bool]:
    """The campaign's scope contains `unit`: no scope (the whole tree), or the scope unit is the
    unit itself or one of its ancestors."""
    return _covers(path_ids(unit.path))


def covers_bound_unit() -> ColumnElement[bool]:
    """`covers_unit` for a statement built once: the unit's path ids are bound at execution as
    `unit_path_ids` (`path_ids(unit.path)`)."""
    return _covers(bindparam("unit_path_ids", expanding=True))


def _covers(ids: Any) -> ColumnElement[bool]:
    return or_(col(Campaign.scope_unit_id).is_(None), col(Campaign.scope_unit_id).in_(ids))


async def open_campaigns(*, session: AsyncSession, unit: Unit | None = None) -> list[Campaign]:
    """The open campaigns in id order; with `unit`, only those whose scope contains it."""
    query = select(Campaign).where(open_condition())
    if unit is not None:
        query = query.where(covers_unit(unit))
    return list((await session.execute(query.order_by(col(Campaign.id)))).scalars().all())


@dataclass(frozen=True)
class StatusChange:
    campaign: Campaign
    old: str
    changed: bool  # False: the campaign already had this status (nothing written)


async def may_manage(*, session: AsyncSession, scope: Scope, campaign: Campaign) -> bool:
    """Whether an admin with `scope` may open or close the campaign: a whole-tree admin always;
    a subtree admin only for a campaign scoped to a unit inside their subtree."""
    if scope.whole_tree:
        return True
    if campaign.scope_unit_id is None:
        return False
    unit = await session.get(Unit, campaign.scope_unit_id)
    return unit is not None and any(is_within(unit.path, path) for path in scope.admin_paths)


async def set_campaign_status(
    *,
    session: AsyncSession,
    campaign_id: int,
    status: str,
    now: datetime,
    actor_person_id: int | None,
    channel: str,
) -> StatusChange | None:
    """Set the campaign's status (`open` or `closed`); None for an unknown campaign. Audited
    (action `campaign.status`) when it changes."""
    if status not in STATUSES:
        raise ValueError(f"unknown campaign status {status!r}")
    require_aware(now)
    campaign = await session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        return None
    old = campaign.status
    if old == status:
        return StatusChange(campaign, old, changed=False)
    campaign.status = status
    campaign.updated_at = now
    await session.flush()
    trail = AuditTrail(now, channel, actor_person_id, "campaign")
    await trail.record(
        session, "campaign.status", campaign_id, old={"status": old}, new={"status": status}
    )
    return StatusChange(campaign, old, changed=True)
