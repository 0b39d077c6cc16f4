"""Read-only views over reports that several screens share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Report, ReportVersion


def current_version_join() -> ColumnElement[bool]:
    """Join condition: a report with its current version."""
    return and_(
        col(ReportVersion.report_id) == col(Report.id),
        col(ReportVersion.version) == col(Report.current_version),
    )


async def versions_of(
    *, session: AsyncSession, report_ids: Sequence[int]
) -> dict[int, list[tuple[int, datetime]]]:
    """report id -> [(version, created_at)] in version order, for many reports in one query
    (`storage.reports.report_history` loads the full versions of one report)."""
    if not report_ids:
        return {}
    rows = await session.execute(
        select(
            col(ReportVersion.report_id), col(ReportVersion.version), col(ReportVersion.created_at)
        )
        .where(col(ReportVersion.report_id).in_(list(report_ids)))
        .order_by(col(ReportVersion.report_id), col(ReportVersion.version))
    )
    result: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for report_id, version, created_at in rows.all():
        result[report_id].append((version, created_at))
    return result
