"""A supervisor's or reviewer's assessment of a unit's study session ("đạt yêu cầu" /
"chưa đạt"), kept on the session's report and audited. A session assessed "chưa đạt" is a
presenter-quality shortcoming (storage.shortcomings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import audit
from storage.campaign_status import open_condition
from storage.clock import require_aware
from storage.i18n import t
from storage.models import ASSESSMENTS, Campaign, Report, ReportVersion
from storage.report_views import current_version_join


def assessment_text(verdict: str | None, lang: str) -> str | None:
    """ "Đạt yêu cầu" / "Chưa đạt" (None: not assessed)."""
    return t(f"common.assessment.{verdict}", lang) if verdict in ASSESSMENTS else None


def choice_text(form: Any, measure: str, value: object, lang: str) -> object:
    """A choice measure's label in the form (presenter standing: "Khác"), else the value."""
    fields = form.get("fields", []) if isinstance(form, dict) else []
    for item in fields:
        if isinstance(item, dict) and item.get("measure") == measure:
            for choice in item.get("choices") or []:
                if choice.get("value") == value:
                    return choice.get("label_en" if lang == "en" else "label_vi", value)
    return value


async def assess_session(
    *,
    session: AsyncSession,
    unit_id: int,
    verdict: str,
    person_id: int | None,
    channel: str,
    now: datetime,
) -> int:
    """Record `verdict` (one of ASSESSMENTS) on the unit's study-session reports in the open
    campaigns (the reports whose current version carries a session date). Returns how many
    reports were assessed (0: the unit has not reported its session yet). The caller checks
    that the person may see the unit."""
    require_aware(now)
    if verdict not in ASSESSMENTS:
        raise ValueError(verdict)
    query = (
        select(Report)
        .join(Campaign, col(Campaign.id) == col(Report.campaign_id))
        .join(ReportVersion, current_version_join())
        .where(
            col(Report.unit_id) == unit_id,
            open_condition(),
            col(ReportVersion.session_date).is_not(None),
        )
    )
    reports = list((await session.execute(query)).scalars())
    trail = audit.AuditTrail(now, channel, person_id, "report")
    for report in reports:
        assert report.id is not None
        old = {"assessment": report.assessment}
        report.assessment = verdict
        report.assessed_at = now
        report.assessed_by_person_id = person_id
        await trail.record(
            session, "report.assess", report.id, old=old, new={"assessment": verdict}
        )
    await session.flush()
    return len(reports)
