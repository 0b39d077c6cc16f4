"""The change history of a campaign's reports and units, as rows (rendered by the export).

`version_changes`: every report version after the first, with the version before it, the unit,
and who made it (their name, or that they were forgotten). `unit_changes`: the audit log's
changes to the units' own data (name, level, parent, members, active) during the campaign. Both
are scoped like the figures (`storage.figures.scope_condition`) and ordered by time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.figures import REPORT, UNIT, VERSION, CampaignContext, scope_condition
from storage.models import metadata

PERSON = metadata.tables["person"]
AUDIT = metadata.tables["audit_log"]
UNIT_AUDIT_ACTIONS = ("unit.update", "unit.move")
UNIT_FIELDS = ("name", "level", "parent_code", "members", "active")


async def version_changes(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    batch_size: int,
) -> AsyncIterator[Any]:
    """Rows (code, name, deliverable_id, version, created_at, channel, created_by_person_id,
    new_answers, old_answers, full_name, forgotten_at), streamed in time order."""
    new = VERSION.alias("new_version")
    old = VERSION.alias("old_version")
    stmt = (
        select(
            UNIT.c.code,
            UNIT.c.name,
            REPORT.c.deliverable_id,
            new.c.version,
            new.c.created_at,
            new.c.channel,
            new.c.created_by_person_id,
            new.c.answers.label("new_answers"),
            old.c.answers.label("old_answers"),
            PERSON.c.full_name,
            PERSON.c.forgotten_at,
        )
        .select_from(new)
        .join(REPORT, REPORT.c.id == new.c.report_id)
        .join(old, and_(old.c.report_id == new.c.report_id, old.c.version == new.c.version - 1))
        .join(UNIT, UNIT.c.id == REPORT.c.unit_id)
        .outerjoin(PERSON, PERSON.c.id == new.c.created_by_person_id)
        .where(
            REPORT.c.campaign_id == ctx.id,
            new.c.version > 1,
            new.c.created_at <= as_of,
            scope_condition(ctx, as_of=as_of, root_path=root_path, unit_filter=None),
        )
        .order_by(new.c.created_at, UNIT.c.path, new.c.version)
    )
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    async for row in result:
        yield row


async def unit_changes(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    since: datetime,
) -> Sequence[Any]:
    """Rows (at, channel, actor_person_id, old, new, code, name, full_name, forgotten_at)."""
    stmt = (
        select(
            AUDIT.c.at,
            AUDIT.c.channel,
            AUDIT.c.actor_person_id,
            AUDIT.c.old,
            AUDIT.c.new,
            UNIT.c.code,
            UNIT.c.name,
            PERSON.c.full_name,
            PERSON.c.forgotten_at,
        )
        .select_from(AUDIT)
        .join(UNIT, cast(UNIT.c.id, String) == AUDIT.c.entity_id)
        .outerjoin(PERSON, PERSON.c.id == AUDIT.c.actor_person_id)
        .where(
            AUDIT.c.entity == "unit",
            AUDIT.c.action.in_(UNIT_AUDIT_ACTIONS),
            AUDIT.c.at >= since,
            AUDIT.c.at <= as_of,
            scope_condition(ctx, as_of=as_of, root_path=root_path, unit_filter=None),
        )
        .order_by(AUDIT.c.at, AUDIT.c.id)
    )
    return (await session.execute(stmt)).all()
