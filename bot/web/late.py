"""Late units: in the viewer's scope, every unit that has missed a deadline (nothing reported
after the deadline day) or reported late, with its secretaries' names and phones. One streamed
query over the scope's units, one query for the reporters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.access import Scope, visible_units_condition
from storage.clock import local_date
from storage.figures import STATUS_LATE, STATUS_MISSING, CampaignContext
from storage.figures import unit_rows as figure_rows
from storage.tree import path_ids
from storage.web_views import Contact, reporters_of

LIST_CAP = 500


@dataclass(frozen=True)
class Owed:
    name: str
    due_date: date
    overdue: bool  # True: still missing; False: reported after the deadline


@dataclass(frozen=True)
class LateUnit:
    unit_id: int
    code: str
    name: str
    owed: list[Owed]
    contacts: list[Contact]


async def late_units(
    session: AsyncSession, ctx: CampaignContext, scope: Scope, now: datetime
) -> list[LateUnit]:
    if scope.is_empty:
        return []
    today = local_date(now, ctx.timezone)
    names = {d.key: d.name_vi for d in ctx.deliverables}
    found: list[tuple[int, str, str, list[Owed]]] = []
    async for row in figure_rows(
        session=session, campaign_id=ctx.id, as_of=now, unit_filter=visible_units_condition(scope)
    ):
        owed = [
            Owed(names[d.key], d.due_date, d.status == STATUS_MISSING)
            for d in row.deliverables
            if (d.status == STATUS_MISSING and d.due_date < today) or d.status == STATUS_LATE
        ]
        if owed:
            found.append((path_ids(row.path)[-1], row.code, row.name, owed))
            if len(found) >= LIST_CAP:
                break
    contacts = await reporters_of(session=session, unit_ids=[f[0] for f in found])
    return [
        LateUnit(unit_id, code, name, owed, contacts.get(unit_id, []))
        for unit_id, code, name, owed in found
    ]
