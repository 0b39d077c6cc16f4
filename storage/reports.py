"""Confirmed reports and their versions.

A `Report` is one unit's report for one deliverable (unique per deliverable and unit); its id is
the receipt number. Every change is a new `ReportVersion` (the old ones are kept, `is_current`
moves to the newest). Chat reports (`confirm_report`, from a draft) and paper reports (the import,
`save_report` from typed answers) go through the same code, with the same history and audit.

Functions never commit: the caller owns the transaction. A caller that tells a person "Đã ghi
nhận" must do so only after its commit succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from storage import audit, review
from storage.campaign_status import covers_bound_unit, open_condition
from storage.campaigns import form_of
from storage.clock import local_date, require_aware
from storage.drafts import delete_draft
from storage.forms import Form, answers_from_json, answers_to_json, measures_of, prune_answers
from storage.json_text import decoded
from storage.models import (
    MEASURES,
    AuditLog,
    Campaign,
    Deliverable,
    DeliverableDeadline,
    Draft,
    Report,
    ReportVersion,
    Unit,
)
from storage.report_views import current_version_join
from storage.tree import path_ids


class DraftGone(LookupError):
    """The draft to confirm no longer exists (confirmed or cancelled meanwhile)."""


class NotReportable(ValueError):
    """The draft does not name a deliverable (it is not at a confirmable stage)."""


@dataclass(frozen=True)
class UnitDeliverable:
    """A deliverable a unit must report in an open campaign, with its due date and the unit's
    report for it (None while owed)."""

    campaign: Campaign
    deliverable: Deliverable
    due_date: date
    report: Report | None


@dataclass(frozen=True)
class UnitReport:
    report: Report
    deliverable: Deliverable
    campaign: Campaign
    version: ReportVersion  # the current version


# --- writing ---------------------------------------------------------------------------------


def version_row(
    *,
    report_id: int,
    version: int,
    form: Form,
    answers: Mapping[str, Any],
    person_id: int | None,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """The `report_version` row for these typed answers (measures, answers JSON), created at
    `now`, current. Shared by `save_report`/`update_report` and the bulk paper import."""
    row: dict[str, Any] = dict.fromkeys(MEASURES)
    row.update(measures_of(form, answers))
    row.update(
        report_id=report_id,
        version=version,
        is_current=True,
        created_at=now,
        created_by_person_id=person_id,
        channel=channel,
        answers=answers_to_json(form, answers),
    )
    return row


async def _insert_version(session: AsyncSession, row: dict[str, Any]) -> ReportVersion:
    """Insert one version and take the row from RETURNING (no read-back)."""
    stmt = insert(ReportVersion).values(**row).returning(ReportVersion)
    version: ReportVersion = (await session.execute(stmt)).scalar_one()
    return version


async def _locked_report(session: AsyncSession, query: Any) -> Report | None:
    """The report row, locked against a concurrent version on PostgreSQL (SQLite writers are
    already serialised by BEGIN IMMEDIATE), re-read from the database."""
    query = query.with_for_update().execution_options(populate_existing=True)
    found: Report | None = (await session.execute(query)).scalar_one_or_none()
    return found


async def _insert_report(
    session: AsyncSession, *, campaign_id: int, deliverable_id: int, unit_id: int, at: datetime
) -> Report | None:
    """A new report row dated `at` (version 1 to come), or None when the unit has one for the
    deliverable (INSERT ... ON CONFLICT DO NOTHING RETURNING: one statement, no savepoint)."""
    params = {
        "new_campaign_id": campaign_id,
        "new_deliverable_id": deliverable_id,
        "new_unit_id": unit_id,
        "new_first_confirmed_at": at,
        "new_current_version": 1,
        "new_updated_at": at,
    }
    statement = _report_insert(session.get_bind().dialect.name)
    report: Report | None = (await session.execute(statement, params)).scalar_one_or_none()
    return report


@lru_cache(maxsize=2)
def _report_insert(dialect: str) -> Any:
    """`_insert_report`'s statement for the dialect, built once (the values are bound)."""
    names = (
        "campaign_id",
        "deliverable_id",
        "unit_id",
        "first_confirmed_at",
        "current_version",
        "updated_at",
    )
    return (
        (postgresql if dialect == "postgresql" else sqlite)
        .insert(Report)
        .values({name: bindparam(f"new_{name}") for name in names})
        .on_conflict_do_nothing(index_elements=["deliverable_id", "unit_id"])
        .returning(Report)
    )


# A first version's INSERT as a Core statement on the table, compiled once (nothing read back).
_VERSION_INSERT = insert(ReportVersion.__table__)  # type: ignore[attr-defined]


async def save_report(
    *,
    session: AsyncSession,
    unit_id: int,
    deliverable_id: int,
    answers: Mapping[str, Any],
    person_id: int | None,
    channel: str,
    now: datetime,
    action: str = "report.confirm",
    note: Mapping[str, Any] | None = None,
    reported_at: datetime | None = None,
    reported_on: date | None = None,
) -> Report:
    """Store typed answers as the unit's report for the deliverable: a new report with version 1,
    or, when the unit already has one (a colleague confirmed meanwhile, a paper report entered
    twice), a new version of it. Audited (`action` for a new report, "report.update" for a new
    version); `note` is added to the audit row's `new`. The answers are assumed validated.
    `reported_at` (a paper report: the start of the day written on it) dates a new report and its
    first version, so on-time and as-of figures follow the paper; the audit keeps `now`.
    `reported_on` (that date) is kept on the version."""
    require_aware(now)
    at = require_aware(reported_at) if reported_at is not None else now
    deliverable = await session.get(Deliverable, deliverable_id)
    if deliverable is None:
        raise LookupError(f"no deliverable {deliverable_id}")
    form = form_of(deliverable)
    typed = prune_answers(form, answers_from_json(form, answers))
    existing_query = select(Report).where(
        col(Report.deliverable_id) == deliverable_id, col(Report.unit_id) == unit_id
    )
    # The common case, the unit's first report, in one statement: the insert does nothing when
    # the unit already has one (a colleague confirmed meanwhile: on PostgreSQL it waits for
    # their commit), and then it is read and locked for a new version.
    report = await _insert_report(
        session,
        campaign_id=deliverable.campaign_id,
        deliverable_id=deliverable_id,
        unit_id=unit_id,
        at=at,
    )
    if report is not None:
        assert report.id is not None
        await session.execute(
            _VERSION_INSERT,
            {
                **version_row(
                    report_id=report.id,
                    version=1,
                    form=form,
                    answers=typed,
                    person_id=person_id,
                    channel=channel,
                    now=at,
                ),
                "reported_on": reported_on,
            },
        )
        trail = audit.AuditTrail(now, channel, person_id, "report")
        await trail.record(
            session,
            action,
            report.id,
            new={
                "version": 1,
                "unit_id": unit_id,
                "deliverable_id": deliverable_id,
                "answers": answers_to_json(form, typed),
                **(note or {}),
            },
        )
        return report
    existing = await _locked_report(session, existing_query)
    if existing is None:  # cannot happen: the insert found the row
        raise LookupError(f"no report of unit {unit_id} for deliverable {deliverable_id}")
    assert existing.id is not None
    await update_report(
        session=session,
        report_id=existing.id,
        answers=typed,
        person_id=person_id,
        channel=channel,
        now=now,
        note=note,
        reported_at=reported_at,
        reported_on=reported_on,
    )
    return existing


async def update_report(
    *,
    session: AsyncSession,
    report_id: int,
    answers: Mapping[str, Any],
    person_id: int | None,
    channel: str,
    now: datetime,
    note: Mapping[str, Any] | None = None,
    reported_at: datetime | None = None,
    reported_on: date | None = None,
) -> ReportVersion:
    """A new current version with these answers (the whole form, typed or JSON); the previous
    version is kept with is_current false. Audited "report.update" (at `now`) with the changed
    fields old -> new. A paper report (`reported_at`: the start of its "Ngày báo cáo") dates the
    new version as the first was dated, never before the version it replaces, and keeps
    `reported_on`; the report's first confirmation (on time or late) is unchanged."""
    require_aware(now)
    report = await _locked_report(session, select(Report).where(col(Report.id) == report_id))
    if report is None:
        raise LookupError(f"no report {report_id}")
    deliverable = await session.get(Deliverable, report.deliverable_id)
    assert deliverable is not None
    form = form_of(deliverable)
    previous = (
        await session.execute(
            select(ReportVersion).where(
                col(ReportVersion.report_id) == report_id,
                col(ReportVersion.version) == report.current_version,
            )
        )
    ).scalar_one()
    if previous.review_state == review.APPROVED:
        raise review.ReportLocked(report_id)
    new_json = answers_to_json(form, prune_answers(form, answers_from_json(form, answers)))
    old_json = dict(previous.answers or {})
    changed = sorted(
        key for key in set(old_json) | set(new_json) if old_json.get(key) != new_json.get(key)
    )
    number = report.current_version + 1
    created = now
    if reported_at is not None:
        created = max(require_aware(reported_at), previous.created_at)
    await session.execute(
        update(ReportVersion)
        .where(col(ReportVersion.report_id) == report_id, col(ReportVersion.is_current))
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )
    version = await _insert_version(
        session,
        version_row(
            report_id=report_id,
            version=number,
            form=form,
            answers=answers_from_json(form, new_json),
            person_id=person_id,
            channel=channel,
            now=created,
        )
        | {"reported_on": reported_on},
    )
    report.current_version = number
    report.updated_at = now
    await session.flush()
    trail = audit.AuditTrail(now, channel, person_id, "report")
    await trail.record(
        session,
        "report.update",
        report_id,
        old={"version": number - 1, **{key: old_json.get(key) for key in changed}},
        new={"version": number, **{key: new_json.get(key) for key in changed}, **(note or {})},
    )
    return version


async def confirm_report(
    *, session: AsyncSession, draft_id: int, now: datetime, taken: Draft | None = None
) -> Report:
    """Turn a draft (new-report mode, every answer given and checked) into the unit's report
    and delete the draft (a new version if the unit already has a report: see `save_report`).
    Audited "report.confirm" with the draft's channel. Raises DraftGone if the draft is gone.
    `taken`: the draft as the caller took it in this transaction (`drafts.advance` succeeded:
    it is current and no one else can change it before the commit), used without a re-read."""
    draft = (
        taken
        if taken is not None and taken.id == draft_id
        else await session.get(Draft, draft_id, populate_existing=True)
    )
    if draft is None:
        raise DraftGone(draft_id)
    if draft.deliverable_id is None:
        raise NotReportable(draft_id)
    report = await save_report(
        session=session,
        unit_id=draft.unit_id,
        deliverable_id=draft.deliverable_id,
        answers=draft.answers,
        person_id=draft.person_id,
        channel=draft.channel,
        now=now,
        note={"draft_id": draft_id},
    )
    await delete_draft(session=session, draft_id=draft_id)
    return report


# --- reading ---------------------------------------------------------------------------------


async def open_draft(
    *, session: AsyncSession, person_id: int
) -> tuple[Draft, Deliverable | None, Campaign | None] | None:
    """The person's draft with the deliverable and campaign it reports on (None before one is
    picked), in one query. While the caller holds them they are in the session's identity map:
    `session.get(Deliverable, id)` / `session.get(Campaign, id)` then cost no query."""
    query = (
        select(Draft, Deliverable, Campaign)
        .outerjoin(Deliverable, col(Deliverable.id) == col(Draft.deliverable_id))
        .outerjoin(Campaign, col(Campaign.id) == col(Deliverable.campaign_id))
        .where(col(Draft.person_id) == person_id)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2])


async def reporter_units(*, session: AsyncSession, unit_ids: Iterable[int]) -> list[Unit]:
    """The active units among these (a reporter's), by name."""
    ids = list(unit_ids)
    if not ids:
        return []
    query = (
        select(Unit)
        .where(col(Unit.id).in_(ids), col(Unit.active))
        .order_by(col(Unit.name), col(Unit.id))
    )
    return list((await session.execute(query)).scalars())


async def report_confirmed_from_draft(
    *, session: AsyncSession, person_id: int, draft_id: int, recent: int = 20
) -> int | None:
    """The report number a draft of this person became (confirmed or updated from it), looked
    up in the person's `recent` latest report audit rows; None if it did not."""
    query = (
        select(AuditLog)
        .where(
            col(AuditLog.actor_person_id) == person_id,
            col(AuditLog.action).in_(("report.confirm", "report.update")),
        )
        .order_by(col(AuditLog.id).desc())
        .limit(recent)
    )
    for row in (await session.execute(query)).scalars():
        if isinstance(row.new, dict) and row.new.get("draft_id") == draft_id:
            return int(row.entity_id)
    return None


async def get_report(*, session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id)


async def current_version(*, session: AsyncSession, report_id: int) -> ReportVersion | None:
    query = select(ReportVersion).where(
        col(ReportVersion.report_id) == report_id, col(ReportVersion.is_current)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def report_history(*, session: AsyncSession, report_id: int) -> list[ReportVersion]:
    """Every version, oldest first."""
    query = (
        select(ReportVersion)
        .where(col(ReportVersion.report_id) == report_id)
        .order_by(col(ReportVersion.version))
    )
    return list((await session.execute(query)).scalars())


async def unit_reports(
    *, session: AsyncSession, unit_id: int, campaign_id: int | None = None
) -> list[UnitReport]:
    """The unit's confirmed reports with their current version, in campaign and deliverable
    order (one query)."""
    query = (
        select(Report, Deliverable, Campaign, ReportVersion)
        .join(Deliverable, col(Deliverable.id) == col(Report.deliverable_id))
        .join(Campaign, col(Campaign.id) == col(Report.campaign_id))
        .join(ReportVersion, current_version_join())
        .where(col(Report.unit_id) == unit_id)
        .order_by(col(Campaign.id), col(Deliverable.position), col(Deliverable.id))
    )
    if campaign_id is not None:
        query = query.where(col(Report.campaign_id) == campaign_id)
    rows = (await session.execute(query)).all()
    return [UnitReport(report=r, deliverable=d, campaign=c, version=v) for r, d, c, v in rows]


# `unit_deliverables`' query, built once (the unit's level, id and path ids are bound). The
# campaign definition and the deliverable form come as text, decoded once per text
# (`storage.json_text`): not a few KB of JSON parsed per campaign on every command.
_JSON_DEFERRED: tuple[Any, ...] = (Campaign.definition, Deliverable.form)
_UNIT_DELIVERABLES = (
    select(
        Campaign,
        Deliverable,
        col(DeliverableDeadline.due_date),
        Report,
        cast(col(Campaign.definition), String),
        cast(col(Deliverable.form), String),
    )
    .options(*(defer(column) for column in _JSON_DEFERRED))
    .join(Deliverable, col(Deliverable.campaign_id) == col(Campaign.id))
    .join(
        DeliverableDeadline,
        and_(
            col(DeliverableDeadline.deliverable_id) == col(Deliverable.id),
            col(DeliverableDeadline.level_code) == bindparam("level_code"),
        ),
    )
    .outerjoin(
        Report,
        and_(
            col(Report.deliverable_id) == col(Deliverable.id),
            col(Report.unit_id) == bindparam("unit_id"),
        ),
    )
    .where(open_condition(), covers_bound_unit())
    .order_by(
        col(DeliverableDeadline.due_date),
        col(Campaign.id),
        col(Deliverable.position),
        col(Deliverable.id),
    )
)


async def unit_deliverables(
    *, session: AsyncSession, unit: Unit, now: datetime
) -> list[UnitDeliverable]:
    """What the unit must report in the campaigns open now whose scope includes it (scope unit
    is the unit or an ancestor, campaign started by the local date): each deliverable that applies
    to the unit's level, with its due date and the unit's report (None while owed). One query;
    ordered by due date."""
    require_aware(now)
    params = {
        "level_code": unit.level_code,
        "unit_id": unit.id,
        "unit_path_ids": path_ids(unit.path),
    }
    rows = (await session.execute(_UNIT_DELIVERABLES, params)).all()
    found = []
    for c, d, due, r, definition, form in rows:
        if "definition" not in c.__dict__:  # not held by the session already
            set_committed_value(c, "definition", decoded(definition))
        if "form" not in d.__dict__:
            set_committed_value(d, "form", decoded(form))
        if c.start_date <= local_date(now, c.timezone):
            found.append(UnitDeliverable(campaign=c, deliverable=d, due_date=due, report=r))
    return found


async def owed_deliverables(
    *, session: AsyncSession, unit: Unit, now: datetime
) -> list[tuple[Campaign, Deliverable, date]]:
    """What the unit still owes in open campaigns, earliest due date first."""
    rows = await unit_deliverables(session=session, unit=unit, now=now)
    return [(row.campaign, row.deliverable, row.due_date) for row in rows if row.report is None]
