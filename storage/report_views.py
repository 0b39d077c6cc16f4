"""Read-only views over reports that several screens share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

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


async def version_answers(
    *,
    session: AsyncSession,
    keys: Collection[str],
    report_ids: Sequence[int] | None = None,
    deliverable_ids: Sequence[int] | None = None,
) -> dict[tuple[int, int], dict[str, Any]]:
    """(report id, version) -> the answers among `keys` that version holds (form fields kept
    only in the answers, such as the action programme's document number), for the reports
    named or every report of the deliverables named, in one query."""
    if not keys or (report_ids is None and deliverable_ids is None):
        return {}
    query = select(
        col(ReportVersion.report_id), col(ReportVersion.version), col(ReportVersion.answers)
    )
    if report_ids is not None:
        query = query.where(col(ReportVersion.report_id).in_(list(report_ids)))
    if deliverable_ids is not None:
        query = query.join(Report, col(Report.id) == col(ReportVersion.report_id)).where(
            col(Report.deliverable_id).in_(list(deliverable_ids))
        )
    result: dict[tuple[int, int], dict[str, Any]] = {}
    for report_id, version, answers in (await session.execute(query)).all():
        found = {k: answers[k] for k in keys if (answers or {}).get(k) is not None}
        if found:
            result[(report_id, version)] = found
    return result


async def versions_by_report(
    *, session: AsyncSession, report_ids: Sequence[int]
) -> dict[int, list[ReportVersion]]:
    """report id -> its full versions in version order, for many reports in one query."""
    if not report_ids:
        return {}
    rows = await session.execute(
        select(ReportVersion)
        .where(col(ReportVersion.report_id).in_(list(report_ids)))
        .order_by(col(ReportVersion.report_id), col(ReportVersion.version))
    )
    result: dict[int, list[ReportVersion]] = defaultdict(list)
    for version in rows.scalars():
        result[version.report_id].append(version)
    return result
