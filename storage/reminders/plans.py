"""Who is told what today, as data: reminders to reporters, escalations to supervisors and
admins, nudges (`/nhacnho`). The texts are written above storage (`scheduler.reminders`), in each
reader's language; a plan carries what they say, never how.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import require_aware
from storage.models import (
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Campaign,
    Person,
    Unit,
)
from storage.reminders.caps import week_start
from storage.reminders.days_off import is_day_off
from storage.reminders.owed import (
    Owed,
    Recipient,
    open_campaigns_for_unit,
    owed,
    role_holders,
    triggered_units,
)
from storage.reminders.preferences import escalation_days
from storage.reminders.rules import (
    ReminderRules,
    in_send_window,
    quiet_hours_end,
    quiet_payload,
)
from storage.tree import path_ids

KIND_REMINDER = "reminder"
KIND_ESCALATION = "escalation"
KIND_NUDGE = "nudge"


@dataclass(frozen=True, slots=True)
class PlanSection:
    """One campaign's part of a message: the units concerned, each with what it owes (in tree
    order; a reminder or a nudge has one unit per section)."""

    campaign_reference: str
    campaign_name: str
    units: tuple[tuple[Owed, ...], ...]


@dataclass(slots=True)
class ReminderPlan:
    """One outbox row to be, before its text is written. `key` makes it at most once."""

    key: str
    kind: str
    person_id: int
    full_name: str
    lang: str
    today: date  # the campaign's local day the plan was made for
    sections: list[PlanSection]
    not_before: datetime
    quiet: dict[str, str] | None = None
    unit_ids: list[int] = field(default_factory=list)
    nudged_by: str | None = None  # nudges: who asked
    weekly_cap: int | None = None  # reminders, escalations: most a week (storage.reminders.caps)
    cap_exempt: bool = False  # a deadline today: told even past the weekly cap
    week_start: datetime | None = None

    @classmethod
    def to(cls, recipient: Recipient, *, key: str, kind: str, **rest: Any) -> ReminderPlan:
        """The plan addressed to `recipient` (their person, name and language)."""
        return cls(
            key=key,
            kind=kind,
            person_id=recipient.person_id,
            full_name=recipient.full_name,
            lang=recipient.lang,
            **rest,
        )


class NudgeOutcome(enum.StrEnum):
    QUEUED = "queued"
    ALREADY_TODAY = "already_today"
    NOTHING_OWED = "nothing_owed"
    NO_REPORTER = "no_reporter"
    NO_UNIT = "no_unit"
    NOT_CONNECTED = "not_connected"  # reporters, none with a chat account: nothing queued

    @property
    def queued(self) -> bool:
        return self is NudgeOutcome.QUEUED


def local_today(now: datetime, tz: str) -> date:
    return require_aware(now).astimezone(ZoneInfo(tz)).date()


def _send_window(campaign: Campaign, now: datetime) -> tuple[ReminderRules, date] | None:
    """The campaign's rules and local day when `now` is inside the day's send window."""
    rules = ReminderRules.from_definition(campaign.definition)
    if not in_send_window(now, campaign.timezone, rules):
        return None
    return rules, local_today(now, campaign.timezone)


def _by_unit(rows: list[Owed]) -> dict[int, list[Owed]]:
    by_unit: dict[int, list[Owed]] = defaultdict(list)
    for row in rows:
        by_unit[row.unit_id].append(row)
    return by_unit


async def reminder_plans(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[ReminderPlan]:
    """Today's reminders for `campaign`: one per reporter per unit that owes something with a
    deadline at one of the reminder offsets today. Empty outside the day's send window."""
    window = _send_window(campaign, now)
    if window is None:
        return []
    rules, today = window
    trigger_dates = {today - timedelta(days=d) for d in rules.reminder_days()}
    if is_day_off(today, rules.days_off):
        # A weekend, a public holiday or a campaign day off: only a deadline today is told.
        trigger_dates = {today} if 0 in rules.reminder_days() else set()
    unit_ids = await triggered_units(session, campaign, trigger_dates) if trigger_dates else []
    if not unit_ids:
        return []
    horizon = today + timedelta(days=rules.horizon_days())
    by_unit = _by_unit(
        await owed(session=session, campaign=campaign, unit_ids=unit_ids, due_until=horizon)
    )
    reporters = await role_holders(session, [ROLE_REPORTER], unit_ids, global_too=False)
    quiet = quiet_payload(campaign.timezone, rules)
    since = week_start(today, campaign.timezone)
    planned: list[ReminderPlan] = []
    for reporter in reporters:
        assert reporter.unit_id is not None
        items = by_unit.get(reporter.unit_id)
        if not items:
            continue
        planned.append(
            ReminderPlan.to(
                reporter,
                key=f"remind:{reporter.person_id}:{reporter.unit_id}:{today.isoformat()}",
                kind=KIND_REMINDER,
                today=today,
                sections=[PlanSection(campaign.reference, campaign.name, (tuple(items),))],
                not_before=now,
                quiet=quiet,
                unit_ids=[reporter.unit_id],
                # The weekly cap over all campaigns; a deadline today is still told.
                weekly_cap=rules.reminders_per_week,
                cap_exempt=any(item.due_date == today for item in items),
                week_start=since,
            )
        )
    return planned


def yesterdays_send_time(campaign: Campaign, now: datetime) -> datetime:
    """The start of yesterday's send window (local), to re-plan what should have gone out."""
    rules = ReminderRules.from_definition(campaign.definition)
    yesterday = local_today(now, campaign.timezone) - timedelta(days=1)
    return datetime.combine(yesterday, time(rules.send_hour), tzinfo=ZoneInfo(campaign.timezone))


async def escalation_plans(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[ReminderPlan]:
    """Today's escalations for `campaign`: per supervisor/admin, one message listing the overdue
    units escalated to them (see `storage.reminders` for who is told when)."""
    window = _send_window(campaign, now)
    if window is None:
        return []
    rules, today = window
    if is_day_off(today, rules.days_off):
        return []  # never on a weekend, a public holiday or a campaign day off
    latest_due = today - timedelta(days=rules.escalation_grace_days)
    rows = await owed(session=session, campaign=campaign, due_before=latest_due)
    if not rows:
        return []
    by_unit = _by_unit(rows)
    ancestors = {uid: path_ids(items[0].unit_path) for uid, items in by_unit.items()}
    all_ids = {a for chain in ancestors.values() for a in chain}
    holders = await role_holders(session, [ROLE_SUPERVISOR, ROLE_ADMIN], all_ids, global_too=True)
    supervisors: dict[int, list[Recipient]] = defaultdict(list)
    admins_on: dict[int | None, list[Recipient]] = defaultdict(list)
    for holder in holders:
        if holder.kind == ROLE_SUPERVISOR and holder.unit_id is not None:
            supervisors[holder.unit_id].append(holder)
        elif holder.kind == ROLE_ADMIN:
            admins_on[holder.unit_id].append(holder)

    told: dict[int, tuple[Recipient, list[int]]] = {}
    for unit_id, items in by_unit.items():
        days_overdue = max((today - row.due_date).days for row in items)
        step = rules.escalation_step(days_overdue)
        chain = list(reversed(ancestors[unit_id]))  # the unit itself first, the root last
        supervised = [a for a in chain if supervisors.get(a)]
        recipients = [r for a in supervised[:step] for r in supervisors[a]]
        if step > len(supervised):
            recipients += admins_on.get(None, [])
            recipients += [r for a in chain for r in admins_on.get(a, [])]
        for recipient in recipients:
            entry = told.setdefault(recipient.person_id, (recipient, []))
            if unit_id not in entry[1]:
                entry[1].append(unit_id)

    quiet = quiet_payload(campaign.timezone, rules)
    since = week_start(today, campaign.timezone)
    chosen = await escalation_days(session=session, person_ids=list(told))
    planned: list[ReminderPlan] = []
    for person_id, (recipient, unit_ids) in told.items():
        # One list on the person's chosen weekdays (/nhacnho caidat), else the campaign's.
        if today.weekday() not in chosen.get(person_id, rules.escalation_weekdays):
            continue
        unit_ids.sort(key=lambda uid: by_unit[uid][0].unit_path)
        units = tuple(tuple(by_unit[uid]) for uid in unit_ids)
        planned.append(
            ReminderPlan.to(
                recipient,
                key=f"escalate:{person_id}:{today.isoformat()}",
                kind=KIND_ESCALATION,
                today=today,
                sections=[PlanSection(campaign.reference, campaign.name, units)],
                not_before=now,
                quiet=quiet,
                unit_ids=list(unit_ids),
                weekly_cap=rules.escalations_per_week,  # over all campaigns
                week_start=since,
            )
        )
    return planned


async def nudge_plans(
    *, session: AsyncSession, unit_id: int, by_person_id: int, now: datetime
) -> tuple[NudgeOutcome | None, list[ReminderPlan]]:
    """A nudge to every reporter of the unit listing all it owes in open campaigns (keyed at
    most one per unit per local day), or why there is none. The caller checks that
    `by_person_id` may nudge this unit."""
    unit = await session.get(Unit, unit_id)
    if unit is None or not unit.active:
        return NudgeOutcome.NO_UNIT, []
    campaigns = await open_campaigns_for_unit(session=session, unit=unit)
    owed_by_campaign = [
        (c, await owed(session=session, campaign=c, unit_ids=[unit_id])) for c in campaigns
    ]
    owed_by_campaign = [(c, rows) for c, rows in owed_by_campaign if rows]
    if not owed_by_campaign:
        return NudgeOutcome.NOTHING_OWED, []
    reporters = await role_holders(session, [ROLE_REPORTER], [unit_id], global_too=False)
    if not reporters:
        return NudgeOutcome.NO_REPORTER, []
    first = owed_by_campaign[0][0]
    rules = ReminderRules.from_definition(first.definition)
    today = local_today(now, first.timezone)
    nudger = await session.get(Person, by_person_id)
    by_name = nudger.full_name if nudger is not None else "?"
    wait = quiet_hours_end(now, tz=first.timezone, start=rules.quiet_start, end=rules.quiet_end)
    sections = [
        PlanSection(campaign.reference, campaign.name, (tuple(rows),))
        for campaign, rows in owed_by_campaign
    ]
    return None, [
        ReminderPlan.to(
            reporter,
            key=f"nudge:{unit_id}:{today.isoformat()}:{reporter.person_id}",
            kind=KIND_NUDGE,
            today=today,
            sections=list(sections),
            not_before=wait or now,
            quiet=quiet_payload(first.timezone, rules),
            unit_ids=[unit_id],
            nudged_by=by_name,
        )
        for reporter in reporters
    ]
