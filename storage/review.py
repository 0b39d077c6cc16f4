"""Review of report versions: chờ duyệt (pending) -> đã duyệt (approved), or trả lại (returned,
with a required reason) -> the reporter amends (a new version, pending again).

Only campaigns whose YAML says `review_required: true` are reviewed; elsewhere every version
stays pending and counts as it always did. Who may review is `storage.access.may_review`
(supervisors of the unit, admins whose subtree contains it); a report outside the reviewer's
scope is refused exactly as a report that does not exist. An approved version is locked:
`storage.reports.update_report` raises `ReportLocked` until a reviewer reopens it (with a
reason). Every decision is audited and tells the unit's reporters through the outbox, once per
event (the key names the version and how many such decisions it had before).

Functions never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import audit
from storage.access import Scope, may_review, review_units_condition
from storage.campaign_status import CAMPAIGN_OPEN
from storage.clock import require_aware
from storage.i18n import t
from storage.i18n.formatting import name_in
from storage.models import (
    ROLE_REPORTER,
    AuditLog,
    Campaign,
    Deliverable,
    Person,
    Report,
    ReportVersion,
    Role,
    Unit,
)
from storage.outbox import enqueue
from storage.report_views import current_version_join

PENDING = "pending"
APPROVED = "approved"
RETURNED = "returned"
STATES = (PENDING, APPROVED, RETURNED)
REASON_MAX = 500
NOTICE_KIND = "review"
OWN_REFUSED = ("approve", "return")  # a reopen by the author still needs another's approval


class ReportLocked(ValueError):
    """The report's current version is approved: a change needs a reviewer to reopen it."""

    def __init__(self, report_id: int) -> None:
        super().__init__(f"report {report_id} is approved and locked")
        self.report_id = report_id


class ReviewRefused(ValueError):
    """A review the person may not make; `key` is the catalog sentence that says why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class ReviewItem:
    report_id: int
    version: ReportVersion
    unit: Unit
    deliverable: Deliverable
    campaign: Campaign


def review_required(campaign: Campaign) -> bool:
    return requires_review(campaign.definition)


def requires_review(definition: Mapping[str, Any] | None) -> bool:
    """Does a campaign with this stored definition require review (`campaign.review_required`
    in its file)."""
    info = (definition or {}).get("campaign") or {}
    return bool(info.get("review_required", False))


def review_basis(approved_only: bool, lang: str) -> str:
    """The line under figures saying which report versions they count: approved ones only, or
    every current version."""
    return t("review.basis.approved" if approved_only else "review.basis.all", lang)


def own_report(scope: Scope, unit: Unit, author_id: int | None) -> bool:
    """Is a version by `author_id` of this unit the reviewer's own: written by them, or of a
    unit they report for? Nobody approves or returns their own report (another reviewer must)."""
    return author_id == scope.person_id or unit.id in scope.reporter_unit_ids


def _not_own(scope: Scope) -> ColumnElement[bool]:
    """SQL over the joined version and unit: not `own_report`."""
    condition: ColumnElement[bool] = or_(
        col(ReportVersion.created_by_person_id).is_(None),
        col(ReportVersion.created_by_person_id) != scope.person_id,
    )
    if scope.reporter_unit_ids:
        condition = and_(condition, col(Unit.id).not_in(scope.reporter_unit_ids))
    return condition


def _query(scope: Scope):  # type: ignore[no-untyped-def]
    return (
        select(Report, ReportVersion, Unit, Deliverable, Campaign)
        .join(ReportVersion, current_version_join())
        .join(Unit, col(Unit.id) == col(Report.unit_id))
        .join(Deliverable, col(Deliverable.id) == col(Report.deliverable_id))
        .join(Campaign, col(Campaign.id) == col(Report.campaign_id))
        .where(review_units_condition(scope), col(Unit.active))
    )


async def reviewed_campaigns(*, session: AsyncSession) -> list[int]:
    """The open campaigns that require review (few: read whole, the flag is in the YAML)."""
    rows = await session.execute(select(Campaign).where(col(Campaign.status) == CAMPAIGN_OPEN))
    return [c.id for c in rows.scalars() if c.id is not None and review_required(c)]


async def pending_reviews(
    *, session: AsyncSession, scope: Scope, limit: int = 50
) -> list[ReviewItem]:
    """Current versions waiting for review in open campaigns that require it, inside the scope
    and not the reviewer's own (`own_report`), oldest first, at most `limit` (the limit is in
    the SQL: a whole-tree admin's list stays short whatever the tree's size)."""
    return await _in_state(session, scope, PENDING, limit)


async def approved_reviews(
    *, session: AsyncSession, scope: Scope, limit: int = 50
) -> list[ReviewItem]:
    """Approved current versions inside the scope (what a reviewer may reopen), most recently
    approved first, at most `limit`."""
    return await _in_state(session, scope, APPROVED, limit)


async def _in_state(
    session: AsyncSession, scope: Scope, state: str, limit: int
) -> list[ReviewItem]:
    campaigns = await reviewed_campaigns(session=session)
    if not campaigns:
        return []
    query = _query(scope).where(
        col(ReportVersion.review_state) == state, col(Report.campaign_id).in_(campaigns)
    )
    if state == PENDING:
        query = query.where(_not_own(scope)).order_by(col(ReportVersion.created_at), col(Report.id))
    else:
        query = query.order_by(col(ReportVersion.reviewed_at).desc(), col(Report.id))
    rows = (await session.execute(query.limit(limit))).all()
    return [ReviewItem(r.id, v, u, d, c) for r, v, u, d, c in rows]


async def _item(session: AsyncSession, scope: Scope, report_id: int) -> ReviewItem:
    row = (await session.execute(_query(scope).where(col(Report.id) == report_id))).first()
    if row is None or not may_review(scope, row[2]):  # outside the scope = no such report
        raise ReviewRefused("review.not_found", number=report_id)
    _report, version, unit, deliverable, campaign = row
    if not review_required(campaign):
        raise ReviewRefused("review.not_required", number=report_id)
    return ReviewItem(report_id, version, unit, deliverable, campaign)


def _reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise ReviewRefused("review.reason_required")
    if len(text) > REASON_MAX:
        raise ReviewRefused("review.reason_too_long", limit=REASON_MAX)
    return text


# action -> (the state it applies to, the state it leaves)
TRANSITIONS = {
    "approve": (PENDING, APPROVED),
    "return": (PENDING, RETURNED),
    "reopen": (APPROVED, PENDING),
}


async def check_decision(
    *,
    session: AsyncSession,
    scope: Scope,
    report_id: int,
    action: str,
    version_id: int | None = None,
) -> ReviewItem:
    """Every check of a decision, changing nothing: in scope (else "not found"), the campaign
    reviews, the version the decision was offered for is still the current one (a button or an
    asked reason names it), the state allows the action, not the reviewer's own report."""
    item = await _item(session, scope, report_id)
    version = item.version
    if version_id is not None and version.id != version_id:
        raise ReviewRefused("review.stale", number=report_id)
    expected, _state = TRANSITIONS[action]
    if version.review_state != expected:
        raise ReviewRefused(f"review.wrong_state.{version.review_state}", number=report_id)
    if action in OWN_REFUSED and own_report(scope, item.unit, version.created_by_person_id):
        raise ReviewRefused(f"review.own.{action}", number=report_id)
    return item


async def decide_report(
    *,
    session: AsyncSession,
    scope: Scope,
    report_id: int,
    action: str,
    reason: str | None,
    channel: str,
    now: datetime,
    version_id: int | None = None,
) -> ReviewItem:
    """Apply `action` (a TRANSITIONS key) to the current version.

    'approve' (pending only) locks it; 'return' (pending only) sends it back for amending and
    'reopen' unlocks an approved one, pending again: both need a reason.
    """
    reason = None if action == "approve" else _reason(reason)
    require_aware(now)
    item = await check_decision(
        session=session, scope=scope, report_id=report_id, action=action, version_id=version_id
    )
    version = item.version
    state = TRANSITIONS[action][1]
    old = {"version": version.version, "state": version.review_state}
    version.review_state = state
    version.review_reason = reason
    version.reviewed_at = now
    version.reviewed_by_person_id = scope.person_id
    await session.flush()
    count = (
        await session.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(
                col(AuditLog.entity) == "report_version",
                col(AuditLog.entity_id) == str(version.id),
                col(AuditLog.action) == f"review.{action}",
            )
        )
    ).scalar_one()
    trail = audit.AuditTrail(now, channel, scope.person_id, "report_version")
    await trail.record(
        session,
        f"review.{action}",
        str(version.id),
        old=old,
        new={"version": version.version, "state": state, "reason": reason, "report": report_id},
    )
    await _notify(
        session, item, action, reason, key=f"review:{action}:{version.id}:{count}", now=now
    )
    return item


async def _notify(
    session: AsyncSession,
    item: ReviewItem,
    action: str,
    reason: str | None,
    *,
    key: str,
    now: datetime,
) -> None:
    """Tell each reporter of the unit (in their language), once per `key`."""
    rows = await session.execute(
        select(col(Person.id), col(Person.language))
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(
            col(Role.unit_id) == item.unit.id,
            col(Role.kind) == ROLE_REPORTER,
            col(Person.forgotten_at).is_(None),
        )
    )
    for person_id, language in rows.all():
        lang = language or "vi"
        text = t(
            f"review.notice.{action}",
            lang,
            number=item.report_id,
            version=item.version.version,
            deliverable=name_in(item.deliverable, lang),
            unit=t("unit.label", lang, name=item.unit.name, code=item.unit.code),
            reason=reason or "",
        )
        await enqueue(
            session=session,
            key=f"{key}:{person_id}",
            kind=NOTICE_KIND,
            person_id=person_id,
            payload={"text": text},
            now=now,
        )


# The three decisions, each `decide_report` with its action fixed.
approve_report = partial(decide_report, action="approve", reason=None)
return_report = partial(decide_report, action="return")
reopen_report = partial(decide_report, action="reopen")


async def current_reviews(
    *, session: AsyncSession, report_ids: list[int]
) -> dict[int, tuple[str, str | None]]:
    """Each report's current version's (review state, reason), for /tinhtrang."""
    if not report_ids:
        return {}
    rows = await session.execute(
        select(col(Report.id), col(ReportVersion.review_state), col(ReportVersion.review_reason))
        .join(ReportVersion, current_version_join())
        .where(col(Report.id).in_(report_ids))
    )
    return {rid: (state, reason) for rid, state, reason in rows.all() if rid is not None}


async def pending_counts(
    *,
    session: AsyncSession,
    scopes: Mapping[int, Scope],
    reviewed: Sequence[int] | None = None,
) -> dict[int, int]:
    """For each person (id -> their reviewing scope): how many reports await their review, in
    open campaigns that require it (`reviewed`, their ids, when the caller has read them
    already). One query for everyone (pending versions are few), the scope rule (`may_review`,
    not `own_report`) applied per person."""
    if reviewed is None:
        reviewed = await reviewed_campaigns(session=session)
    if not reviewed or not scopes:
        return {}
    rows = (
        await session.execute(
            select(Unit, col(ReportVersion.created_by_person_id))
            .join(Report, col(Report.unit_id) == col(Unit.id))
            .join(ReportVersion, current_version_join())
            .where(
                col(Report.campaign_id).in_(reviewed),
                col(ReportVersion.review_state) == PENDING,
                col(Unit.active),
            )
        )
    ).all()
    counts = {
        pid: sum(
            1 for u, author in rows if may_review(scope, u) and not own_report(scope, u, author)
        )
        for pid, scope in scopes.items()
    }
    return {pid: n for pid, n in counts.items() if n}
