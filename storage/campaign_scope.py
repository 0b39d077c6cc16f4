"""The units a campaign may be rooted at by an admin (its scope, offered on the campaign form):
active units with units under them, inside the admin's subtrees (any for a whole-tree admin),
in tree order; `storage.campaign_status.may_manage` then holds for the campaign."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.access import Scope
from storage.models import Unit
from storage.tree import in_subtree

SCOPE_CHOICES = 300  # a province's committees down to the grassroots ones that have cells


async def scope_choices(
    *, session: AsyncSession, scope: Scope, limit: int = SCOPE_CHOICES
) -> list[tuple[str, str]]:
    """(code, name) of the units `scope` may root a campaign at, at most `limit`."""
    child = aliased(Unit)
    has_children = exists().where(col(child.parent_id) == col(Unit.id), col(child.active))
    inside: ColumnElement[bool] = (
        true()
        if scope.whole_tree
        else or_(false(), *(in_subtree(col(Unit.path), root) for root in scope.admin_paths))
    )
    query = (
        select(col(Unit.code), col(Unit.name))
        .where(col(Unit.active), has_children, inside)
        .order_by(col(Unit.path))
        .limit(limit)
    )
    return [(str(code), str(name)) for code, name in (await session.execute(query)).all()]
