"""Writing validated paper reports in bulk: a unit's first report for a deliverable (the common
case of a paper import) is inserted set-wise, its report, version 1 and audit row by chunks of
statements instead of a handful of statements per row; anything else (a new version of an
existing report, a report a colleague confirmed meanwhile) goes through
`storage.reports.save_report`, one by one, with the same history and audit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.forms import Form, answers_from_json, answers_to_json, prune_answers
from storage.models import Report, ReportVersion
from storage.reports import version_row

CHUNK = 2_000


async def insert_first_reports(
    *,
    session: AsyncSession,
    campaign_id: int,
    rows: Sequence[Any],  # storage.report_import.validate.Planned
    forms: Mapping[int | None, Form],
    notes: Callable[[Any], dict[str, Any]],
    dated: Callable[[date | None], datetime],
    person_id: int | None,
    channel: str,
    now: datetime,
) -> list[Any]:
    """Insert report + version 1 + audit for each row; returns the rows NOT written (the unit
    got a report meanwhile: the caller writes them as new versions)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    left: list[Any] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        stmt = (
            dialect.insert(Report)
            .on_conflict_do_nothing(index_elements=["deliverable_id", "unit_id"])
            .returning(Report.id, Report.unit_id, Report.deliverable_id)
        )
        values = [
            {
                "campaign_id": campaign_id,
                "deliverable_id": row.deliverable_id,
                "unit_id": row.unit_id,
                "first_confirmed_at": dated(row.reported_on),
                "current_version": 1,
                "updated_at": dated(row.reported_on),
            }
            for row in chunk
        ]
        ids: dict[tuple[int, int], int] = {}
        # Batched by the driver (insertmanyvalues), ids matched by (unit, deliverable).
        for found in (await session.execute(stmt, values)).all():
            ids[(int(found.unit_id), int(found.deliverable_id))] = int(found.id)
        versions: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for row in chunk:
            report_id = ids.get((row.unit_id, row.deliverable_id))
            if report_id is None:
                left.append(row)
                continue
            form = forms[row.deliverable_id]
            typed = prune_answers(form, answers_from_json(form, row.answers))
            versions.append(
                {
                    **version_row(
                        report_id=report_id,
                        version=1,
                        form=form,
                        answers=typed,
                        person_id=person_id,
                        channel=channel,
                        now=dated(row.reported_on),
                    ),
                    "reported_on": row.reported_on,
                }
            )
            audits.append(
                {
                    "at": now,
                    "channel": channel,
                    "action": "report.import",
                    "entity": "report",
                    "entity_id": report_id,
                    "actor_person_id": person_id,
                    "new": {
                        "version": 1,
                        "unit_id": row.unit_id,
                        "deliverable_id": row.deliverable_id,
                        "answers": answers_to_json(form, typed),
                        **notes(row),
                    },
                }
            )
        if versions:
            await session.execute(insert(ReportVersion), versions)
        await audit.record_many(session=session, rows=audits)
    return left
