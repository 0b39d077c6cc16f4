"""Writing validated paper reports, all or nothing (`write_reports`), without validating again.

A unit's first report for a deliverable (the common case of a paper import) is inserted
set-wise on the Core tables (no ORM objects): reports by batched INSERT ... ON CONFLICT DO
NOTHING RETURNING, then their versions and audit rows by batched INSERTs. Anything else (a new
version of an existing report, a report a colleague confirmed since the file was checked) goes
through `storage.reports.save_report`, one by one, with the same history and audit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.campaigns import deliverables_of
from storage.clock import end_of_day
from storage.forms import Form, answers_to_json
from storage.i18n import t
from storage.models import CHANNEL_CLI, metadata
from storage.planner_stats import analyse_after_bulk
from storage.report_import.tables import REPORT, VERSION, ReportImportError, RowProblem
from storage.report_import.validate import Checked, ImportSummary, Planned, validate_reports
from storage.reports import save_report, version_row
from storage.review import ReportLocked

CHUNK = 2_000
CAMPAIGN = metadata.tables["campaign"]
AUDIT = metadata.tables["audit_log"]


def start_of_day(day: date, tz: str) -> datetime:
    """Midnight starting `day` in `tz` (a paper report counts from the start of its date)."""
    return end_of_day(day - timedelta(days=1), tz)


async def _current_answers(
    session: AsyncSession, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], dict[str, Any]]:
    """(deliverable id, unit id) -> the current version's answers, for the pairs given."""
    current: dict[tuple[int, int], dict[str, Any]] = {}
    unit_ids = sorted({u for _, u in pairs})
    deliverable_ids = sorted({d for d, _ in pairs})
    for start in range(0, len(unit_ids), CHUNK):
        chunk = unit_ids[start : start + CHUNK]
        stmt = (
            select(REPORT.c.deliverable_id, REPORT.c.unit_id, VERSION.c.answers)
            .join(
                VERSION,
                and_(
                    VERSION.c.report_id == REPORT.c.id,
                    VERSION.c.version == REPORT.c.current_version,
                ),
            )
            .where(REPORT.c.unit_id.in_(chunk), REPORT.c.deliverable_id.in_(deliverable_ids))
        )
        for row in (await session.execute(stmt)).all():
            current[(row.deliverable_id, row.unit_id)] = dict(row.answers or {})
    return current


def _same(form: Form, answers: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    if stored is None:
        return False
    new = {k: v for k, v in answers_to_json(form, answers).items() if v is not None}
    old = {k: v for k, v in stored.items() if v is not None}
    return new == old


def note_of(row: Planned) -> dict[str, Any]:
    """What the audit row adds about the paper: its line, sheet and date."""
    note: dict[str, Any] = {"line": row.line}
    if row.sheet:
        note["sheet"] = row.sheet
    if row.reported_on is not None:
        note["reported_on"] = row.reported_on.isoformat()
    return note


async def import_reports(
    *,
    session: AsyncSession,
    campaign_id: int,
    tables: Sequence[Any],  # storage.report_import.tables.RawTable
    now: datetime,
    deliverable: str | None = None,
    person_id: int | None = None,
    channel: str = CHANNEL_CLI,
    lang: str = "vi",
) -> ImportSummary:
    """Validate every row, then write them all (reports, versions, audit) or nothing: raises
    ReportImportError listing every bad row. Never commits. (`cadrebot reports import` checks
    the file in a read transaction, then calls `write_reports` in the write transaction.)"""
    checked = await validate_reports(
        session=session,
        campaign_id=campaign_id,
        tables=tables,
        now=now,
        deliverable=deliverable,
        person_id=person_id,
        lang=lang,
    )
    return await write_reports(session=session, checked=checked, channel=channel)


async def write_reports(
    *, session: AsyncSession, checked: Checked, channel: str = CHANNEL_CLI
) -> ImportSummary:
    """Write the rows `validate_reports` accepted, without checking them again: a first report
    set-wise, a changed one as a new version, an equal one left alone. A file with a problem
    writes nothing (ReportImportError); so does a report approved since the check (locked: every
    such row is named, the caller rolls back). Never commits."""
    checked.refuse()
    campaign_id, now, person_id, lang = (
        checked.campaign_id,
        checked.now,
        checked.person_id,
        checked.lang,
    )
    planned = checked.rows
    summary = ImportSummary(notes=list(checked.notes))
    forms = {
        item.id: form
        for item, form, _ in await deliverables_of(session=session, campaign_id=campaign_id)
    }
    timezone = (
        await session.execute(select(CAMPAIGN.c.timezone).where(CAMPAIGN.c.id == campaign_id))
    ).scalar_one()
    current = await _current_answers(session, [(p.deliverable_id, p.unit_id) for p in planned])
    starts: dict[date, datetime] = {}

    def dated(day: date | None) -> datetime:
        if day is None:
            return now
        if day not in starts:
            starts[day] = start_of_day(day, timezone)
        return starts[day]

    first: list[Planned] = []
    later: list[Planned] = []
    for row in planned:
        stored = current.get((row.deliverable_id, row.unit_id))
        if stored is None:
            first.append(row)
        elif _same(forms[row.deliverable_id], row.answers, stored):
            summary.unchanged += 1
        else:
            later.append(row)
    # First reports set-wise; a unit that got one meanwhile becomes a new version below.
    left = await insert_first_reports(
        session=session,
        campaign_id=campaign_id,
        rows=first,
        forms=forms,
        dated=dated,
        person_id=person_id,
        channel=channel,
        now=now,
    )
    written = {id(row) for row in left}
    summary.created += len(first) - len(left)
    summary.rows.extend(row for row in first if id(row) not in written)
    locked: list[RowProblem] = []
    for row in [*left, *later]:
        try:
            await save_report(
                session=session,
                unit_id=row.unit_id,
                deliverable_id=row.deliverable_id,
                answers=row.answers,
                person_id=person_id,
                channel=channel,
                now=now,
                action="report.import",
                note=note_of(row),
                reported_at=dated(row.reported_on) if row.reported_on else None,
                reported_on=row.reported_on,
            )
        except ReportLocked as refused:  # approved: a reviewer must reopen it first
            message = t("review.locked", lang, number=refused.report_id)
            locked.append(RowProblem(row.line, row.sheet, message))
            continue
        summary.updated += 1
        summary.rows.append(row)
    if locked:  # nothing is written (the caller rolls back), every locked row is named
        raise ReportImportError(locked)
    await analyse_after_bulk(
        session=session,
        tables=("report", "report_version"),
        rows=summary.created + summary.updated,
    )
    return summary


async def insert_first_reports(
    *,
    session: AsyncSession,
    campaign_id: int,
    rows: Sequence[Planned],
    forms: Mapping[int | None, Form],
    dated: Callable[[date | None], datetime],
    person_id: int | None,
    channel: str,
    now: datetime,
) -> list[Planned]:
    """Insert report + version 1 + audit for each row; returns the rows NOT written (the unit
    got a report meanwhile: the caller writes them as new versions)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    left: list[Planned] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        stmt = (
            dialect.insert(REPORT)
            .on_conflict_do_nothing(index_elements=["deliverable_id", "unit_id"])
            .returning(REPORT.c.id, REPORT.c.unit_id, REPORT.c.deliverable_id)
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
            version = version_row(
                report_id=report_id,
                version=1,
                form=form,
                answers=row.answers,  # validated: only the fields that apply are answered
                person_id=person_id,
                channel=channel,
                now=dated(row.reported_on),
            )
            version["reported_on"] = row.reported_on
            versions.append(version)
            audits.append(
                {
                    "at": now,
                    "channel": channel,
                    "action": "report.import",
                    "entity": "report",
                    "entity_id": str(report_id),
                    "actor_person_id": person_id,
                    "old": None,
                    "new": {
                        "version": 1,
                        "unit_id": row.unit_id,
                        "deliverable_id": row.deliverable_id,
                        "answers": version["answers"],
                        **note_of(row),
                    },
                }
            )
        if versions:
            # Core tables, no ORM bookkeeping per row. RETURNING (ids not needed) makes
            # SQLAlchemy send multi-row INSERTs ("insertmanyvalues", 1,000 rows a statement)
            # instead of the driver's executemany, one statement per row (asyncpg: 2-3x slower).
            await session.execute(insert(VERSION).returning(VERSION.c.id), versions)
            await session.execute(insert(AUDIT).returning(AUDIT.c.id), audits)
    return left
