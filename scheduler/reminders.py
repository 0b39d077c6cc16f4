"""Reminders, escalations and nudges as messages: the texts of `storage.reminders`' plans, in
each reader's language (dates and numbers too: `10/6/2016` and `1.234` in Vietnamese, `10 Jun
2016` and `1,234` in English), and their queueing in the outbox (idempotent by key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.i18n import t
from storage.i18n.formatting import date_text, number
from storage.messages import OutgoingMessage
from storage.models import Campaign
from storage.reminders import (
    KIND_ESCALATION,
    KIND_NUDGE,
    Contact,
    NudgeOutcome,
    Owed,
    PlanSection,
    ReminderPlan,
    escalation_plans,
    nudge_plans,
    reminder_plans,
    reporter_contacts,
    yesterdays_send_time,
)
from storage.reminders.caps import Capped, within_weekly_caps
from storage.reminders.withdraw import owes_payload

MAX_UNITS_LISTED = 20

__all__ = [
    "MAX_UNITS_LISTED",
    "NudgeOutcome",
    "NudgeReply",
    "PlannedMessage",
    "enqueue_planned",
    "merge_planned",
    "missed_reminders",
    "nudge_reachable",
    "nudge_unit",
    "plan_escalations",
    "plan_reminders",
    "render_plan",
    "within_caps",
]


@dataclass(slots=True)
class PlannedMessage:
    """One outbox row to be: `sections` are merged when two plans share a key."""

    key: str
    kind: str
    person_id: int
    lang: str
    head: str
    sections: list[str]
    foot: str
    not_before: datetime
    quiet: dict[str, str] | None = None
    unit_ids: list[int] = field(default_factory=list)
    deliverable_ids: list[int] = field(default_factory=list)  # what a reminder/nudge asks for
    weekly_cap: int | None = None  # see storage.reminders.caps
    cap_exempt: bool = False
    week_start: datetime | None = None

    def message(self) -> OutgoingMessage:
        parts = [self.head, *self.sections, self.foot]
        return OutgoingMessage(text="\n\n".join(p for p in parts if p))

    def payload(self) -> dict[str, Any]:
        payload = self.message().to_payload()
        if self.quiet:
            payload["quiet"] = self.quiet
        if self.kind != KIND_ESCALATION and len(self.unit_ids) == 1 and self.deliverable_ids:
            # Withdrawn unsent once the unit has reported all of it (storage.reminders.withdraw).
            payload.update(owes_payload(self.unit_ids[0], self.deliverable_ids))
        return payload


def _item(row: Owed, today: date, lang: str) -> str:
    days = (row.due_date - today).days
    due = date_text(row.due_date, lang)
    name = row.label(lang)
    if days > 0:
        return t(
            "scheduler.item.upcoming", lang, deliverable=name, due=due, days=number(days, lang)
        )
    if days == 0:
        return t("scheduler.item.today", lang, deliverable=name, due=due)
    return t("scheduler.item.overdue", lang, deliverable=name, due=due, days=number(-days, lang))


def _unit_section(section: PlanSection, today: date, lang: str) -> str:
    """A reminder's or a nudge's part for one campaign: the unit, then what it owes."""
    rows = section.units[0]
    head = t(
        "scheduler.remind.unit",
        lang,
        unit=rows[0].unit_name,
        code=rows[0].unit_code,
        reference=section.campaign_reference,
    )
    return "\n".join([head, *(_item(row, today, lang) for row in rows)])


def _escalation_section(section: PlanSection, today: date, lang: str) -> str:
    """An escalation's part for one campaign: the overdue units, at most `MAX_UNITS_LISTED`."""
    lines = [
        t(
            "scheduler.escalate.unit",
            lang,
            unit=f"{rows[0].unit_name} ({rows[0].unit_code})",
            deliverables="\n".join(_item(row, today, lang) for row in rows),
        )
        for rows in section.units[:MAX_UNITS_LISTED]
    ]
    total = len(section.units)
    if total > MAX_UNITS_LISTED:
        lines.append(
            t("scheduler.escalate.more", lang, count=number(total - MAX_UNITS_LISTED, lang))
        )
    head = t(
        "scheduler.escalate.campaign",
        lang,
        campaign=section.campaign_name,
        count=number(total, lang),
    )
    return "\n".join([head, *lines])


def render_plan(plan: ReminderPlan) -> PlannedMessage:
    """The plan's message in the reader's language."""
    lang, today = plan.lang, plan.today
    if plan.kind == KIND_ESCALATION:
        head = t("scheduler.escalate.head", lang, name=plan.full_name, date=date_text(today, lang))
        sections = [_escalation_section(s, today, lang) for s in plan.sections]
        foot = t("scheduler.escalate.foot", lang)
    else:
        if plan.kind == KIND_NUDGE:
            head = t("scheduler.nudge.head", lang, name=plan.full_name, by=plan.nudged_by or "?")
        else:
            head = t("scheduler.remind.head", lang, name=plan.full_name)
        sections = [_unit_section(s, today, lang) for s in plan.sections]
        foot = t("scheduler.remind.foot", lang)
    return PlannedMessage(
        key=plan.key,
        kind=plan.kind,
        person_id=plan.person_id,
        lang=lang,
        head=head,
        sections=sections,
        foot=foot,
        not_before=plan.not_before,
        quiet=plan.quiet,
        unit_ids=list(plan.unit_ids),
        deliverable_ids=sorted(
            {row.deliverable_id for s in plan.sections for rows in s.units for row in rows}
        ),
        weekly_cap=plan.weekly_cap,
        cap_exempt=plan.cap_exempt,
        week_start=plan.week_start,
    )


async def plan_reminders(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[PlannedMessage]:
    """Today's reminders for `campaign` (see `storage.reminders.reminder_plans`), as messages."""
    plans = await reminder_plans(session=session, campaign=campaign, now=now)
    return [render_plan(plan) for plan in plans]


async def plan_escalations(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[PlannedMessage]:
    """Today's escalations for `campaign` (see `storage.reminders.escalation_plans`)."""
    plans = await escalation_plans(session=session, campaign=campaign, now=now)
    return [render_plan(plan) for plan in plans]


def merge_planned(planned: Iterable[PlannedMessage]) -> list[PlannedMessage]:
    """Plans with the same key (two open campaigns, one unit) become one message."""
    merged: dict[str, PlannedMessage] = {}
    for plan in planned:
        first = merged.get(plan.key)
        if first is None:
            merged[plan.key] = plan
        else:
            first.sections.extend(plan.sections)
            first.unit_ids.extend(u for u in plan.unit_ids if u not in first.unit_ids)
            first.deliverable_ids = sorted({*first.deliverable_ids, *plan.deliverable_ids})
            first.not_before = max(first.not_before, plan.not_before)
            first.cap_exempt = first.cap_exempt or plan.cap_exempt
            caps = [c for c in (first.weekly_cap, plan.weekly_cap) if c is not None]
            first.weekly_cap = min(caps) if caps else None
            starts = [w for w in (first.week_start, plan.week_start) if w is not None]
            first.week_start = min(starts) if starts else None
    return list(merged.values())


async def within_caps(
    *, session: AsyncSession, planned: Iterable[PlannedMessage]
) -> list[PlannedMessage]:
    """`planned` merged by key, without what the weekly caps per person hold back, counted over
    every campaign (`storage.reminders.caps`)."""
    merged = merge_planned(planned)
    capped = [
        Capped(p.key, p.kind, p.person_id, p.weekly_cap, p.cap_exempt, p.week_start)
        for p in merged
        if p.weekly_cap is not None and p.week_start is not None
    ]
    allowed = await within_weekly_caps(session=session, items=capped)
    return [p for p in merged if p.weekly_cap is None or p.key in allowed]


async def enqueue_planned(
    *, session: AsyncSession, planned: Sequence[PlannedMessage], now: datetime
) -> list[str]:
    """Write plans to the outbox (bulk, idempotent by key) within the weekly caps; returns the
    keys that were new."""
    rows = [
        {
            "key": plan.key,
            "kind": plan.kind,
            "person_id": plan.person_id,
            "payload": plan.payload(),
            "not_before": plan.not_before,
        }
        for plan in await within_caps(session=session, planned=planned)
    ]
    return await outbox.enqueue_many(session=session, rows=rows, now=now)


async def missed_reminders(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[str]:
    """Keys of yesterday's reminders that were never queued (the bot was down through the send
    window). They are not sent late; callers log them."""
    at = yesterdays_send_time(campaign, now)
    plans = await reminder_plans(session=session, campaign=campaign, now=at)
    # What the weekly caps held back was not missed.
    kept = await within_caps(session=session, planned=[render_plan(plan) for plan in plans])
    keys = [plan.key for plan in kept]
    present = await outbox.existing_keys(session=session, keys=keys)
    return [key for key in keys if key not in present]


async def nudge_unit(
    *, session: AsyncSession, unit_id: int, by_person_id: int, now: datetime
) -> NudgeOutcome:
    """Queue a nudge to every reporter of the unit listing all it owes in open campaigns; at most
    one per unit per local day. The caller checks that `by_person_id` may nudge this unit."""
    refused, plans = await nudge_plans(
        session=session, unit_id=unit_id, by_person_id=by_person_id, now=now
    )
    if refused is not None:
        return refused
    new = await enqueue_planned(
        session=session, planned=[render_plan(plan) for plan in plans], now=now
    )
    return NudgeOutcome.QUEUED if new else NudgeOutcome.ALREADY_TODAY


@dataclass(frozen=True)
class NudgeReply:
    outcome: NudgeOutcome
    offline: list[Contact]  # the unit's reporters without a chat account: to call instead


async def nudge_reachable(
    *, session: AsyncSession, unit_id: int, by_person_id: int, now: datetime
) -> NudgeReply:
    """/nhacnho and the web's "nhắc đơn vị này": `nudge_unit`, unless the unit has reporters and
    none of them has a chat account (NOT_CONNECTED, nothing queued: never "sent" to nobody);
    either way with the reporters a message cannot reach, to be called."""
    contacts = await reporter_contacts(session=session, unit_id=unit_id)
    offline = [c for c in contacts if not c.connected]
    if contacts and len(offline) == len(contacts):
        return NudgeReply(NudgeOutcome.NOT_CONNECTED, offline)
    outcome = await nudge_unit(session=session, unit_id=unit_id, by_person_id=by_person_id, now=now)
    return NudgeReply(outcome, offline)
