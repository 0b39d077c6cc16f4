"""Reminders (nhắc nhở), escalation (đôn đốc) and nudges: who must be told what, today.

Planning only: these functions return `PlannedMessage`s; `enqueue_planned` writes them to the
outbox, whose unique keys make every message at most once:

- reminder  `remind:{person_id}:{unit_id}:{local date}`  — one per reporter per unit per day,
  combining everything the unit owes (all open campaigns merged into one message);
- escalation `escalate:{person_id}:{local date}`        — one per supervisor/admin per day,
  listing every overdue unit escalated to them;
- nudge     `nudge:{unit_id}:{local date}:{person_id}`  — `/nhacnho CODE`, one per unit per day.

Rules come from the campaign definition as storage.campaigns stores it,
`Campaign.definition["campaign"]["reminders"]` (a top-level `"reminders"` is accepted too); every
key is optional:

    reminders:
      offsets_days: [-3, -1, 0]     # days relative to a deadline (negative = before)
      overdue_every_days: 2         # then every N days while overdue ...
      overdue_cap: 5                # ... at most this many overdue reminders per deadline
      send_hour: 8                  # local hour from which the day's messages are planned
      quiet_hours: {start: "21:00", end: "07:00"}
      escalation_grace_days: 3      # overdue more than this: told to the supervisors
      escalation_up_days: 7         # every further N days: one supervised level higher

A unit *owes* a deliverable when it is expected (active, in the campaign's scope, at a level with
a deadline for it) and has no confirmed report for it. A unit gets a reminder today when one of
its owed deadlines is at an offset today; the message then lists every deliverable it owes that
is overdue or due within the reminder horizon (the earliest offset).

Escalation, level by level: the *supervised ancestors* of a unit are the unit itself and its
ancestors that have supervisors, nearest first. Overdue more than `grace` days: step 1, the
supervisors of the nearest one. Each further `up_days` days: one more step up (step k = the
supervisors of the k nearest, cumulatively). Once the steps run past the last supervised
ancestor (or when nobody supervises the unit), the admins covering the unit are told too.

Messages are planned only inside the day's send window, [send_hour, quiet start) local time: a
day whose window passed while the bot was down is skipped (the next day's plan takes over).
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import outbox
from storage.clock import require_aware
from storage.i18n import pick_language, t
from storage.messages import OutgoingMessage
from storage.models import (
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Campaign,
    Deliverable,
    DeliverableDeadline,
    Person,
    Report,
    Role,
    Unit,
)
from storage.tree import in_subtree, path_ids

log = logging.getLogger(__name__)

CAMPAIGN_OPEN = "open"
KIND_REMINDER = "reminder"
KIND_ESCALATION = "escalation"
KIND_NUDGE = "nudge"
MAX_UNITS_LISTED = 20
_CHUNK = 500


# ---------------------------------------------------------------------------------------- rules


def parse_hhmm(value: Any, name: str) -> time:
    """`"07:00"`, `"07:00:00"` or a `time`."""
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"reminders.{name}: expected HH:MM, got {value!r}") from exc


def _reminder_block(definition: dict[str, Any] | None) -> Any:
    """`reminders` as storage.campaigns stores it (under `campaign`), or at the top level."""
    definition = definition or {}
    campaign = definition.get("campaign")
    if isinstance(campaign, dict) and campaign.get("reminders") is not None:
        return campaign["reminders"]
    return definition.get("reminders") or {}


@dataclass(frozen=True, slots=True)
class ReminderRules:
    offsets_days: tuple[int, ...] = (-3, -1, 0)
    overdue_every_days: int = 2
    overdue_cap: int = 5
    send_hour: int = 8
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    escalation_grace_days: int = 3
    escalation_up_days: int = 7

    @classmethod
    def from_definition(cls, definition: dict[str, Any] | None) -> ReminderRules:
        raw = _reminder_block(definition)
        if not isinstance(raw, dict):
            raise ValueError("reminders: expected a mapping")
        base = cls()
        quiet = raw.get("quiet_hours", {"start": base.quiet_start, "end": base.quiet_end})
        if isinstance(quiet, dict):
            quiet = [quiet.get("start", base.quiet_start), quiet.get("end", base.quiet_end)]
        if not isinstance(quiet, list | tuple) or len(quiet) != 2:
            raise ValueError("reminders.quiet_hours: expected {start, end}")
        try:
            rules = cls(
                offsets_days=tuple(int(d) for d in raw.get("offsets_days", base.offsets_days)),
                overdue_every_days=int(raw.get("overdue_every_days", base.overdue_every_days)),
                overdue_cap=int(raw.get("overdue_cap", base.overdue_cap)),
                send_hour=int(raw.get("send_hour", base.send_hour)),
                quiet_start=parse_hhmm(quiet[0], "quiet_hours"),
                quiet_end=parse_hhmm(quiet[1], "quiet_hours"),
                escalation_grace_days=int(
                    raw.get("escalation_grace_days", base.escalation_grace_days)
                ),
                escalation_up_days=int(raw.get("escalation_up_days", base.escalation_up_days)),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"reminders: {exc}") from exc
        if not 0 <= rules.send_hour <= 23:
            raise ValueError("reminders.send_hour: 0-23")
        if in_quiet_hours(time(rules.send_hour), rules.quiet_start, rules.quiet_end):
            raise ValueError("reminders.send_hour falls in the quiet hours")
        if rules.overdue_every_days < 1 or rules.overdue_cap < 0 or rules.escalation_up_days < 1:
            raise ValueError("reminders: overdue_every_days and escalation_up_days must be >= 1")
        return rules

    def reminder_days(self) -> set[int]:
        """Days relative to a deadline (due date = day 0) on which a reminder goes out."""
        days = set(self.offsets_days)
        days.update(self.overdue_every_days * i for i in range(1, self.overdue_cap + 1))
        return days

    def horizon_days(self) -> int:
        """How far ahead an upcoming deadline is listed in a reminder."""
        return max([0, *(-d for d in self.offsets_days)])

    def escalation_step(self, days_overdue: int) -> int:
        """0 = not escalated; 1 = nearest supervisors; k = k supervised levels up."""
        if days_overdue <= self.escalation_grace_days:
            return 0
        return 1 + (days_overdue - self.escalation_grace_days - 1) // self.escalation_up_days


def in_quiet_hours(moment: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start > end:  # wraps midnight, e.g. 21:00-07:00
        return moment >= start or moment < end
    return start <= moment < end


def quiet_hours_end(now: datetime, *, tz: str, start: time, end: time) -> datetime | None:
    """When `now` falls in the quiet hours of `tz`, the moment they end; else None."""
    zone = ZoneInfo(tz)
    local = require_aware(now).astimezone(zone)
    if not in_quiet_hours(local.time().replace(tzinfo=None), start, end):
        return None
    day = local.date() if local.time().replace(tzinfo=None) < end else local.date() + timedelta(1)
    return datetime.combine(day, end, tzinfo=zone)


def quiet_payload(tz: str, rules: ReminderRules) -> dict[str, str]:
    """Stored in the outbox payload so the sender holds the message back in quiet hours too."""
    return {
        "tz": tz,
        "start": rules.quiet_start.strftime("%H:%M"),
        "end": rules.quiet_end.strftime("%H:%M"),
    }


def in_send_window(now: datetime, tz: str, rules: ReminderRules) -> bool:
    local = require_aware(now).astimezone(ZoneInfo(tz)).time().replace(tzinfo=None)
    return local >= time(rules.send_hour) and not in_quiet_hours(
        local, rules.quiet_start, rules.quiet_end
    )


# ------------------------------------------------------------------------------------- messages


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

    def message(self) -> OutgoingMessage:
        parts = [self.head, *self.sections, self.foot]
        return OutgoingMessage(text="\n\n".join(p for p in parts if p))

    def payload(self) -> dict[str, Any]:
        payload = self.message().to_payload()
        if self.quiet:
            payload["quiet"] = self.quiet
        return payload


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
            first.not_before = max(first.not_before, plan.not_before)
    return list(merged.values())


async def enqueue_planned(
    *, session: AsyncSession, planned: Sequence[PlannedMessage], now: datetime
) -> list[str]:
    """Write plans to the outbox (bulk, idempotent by key); returns the keys that were new."""
    rows = [
        {
            "key": plan.key,
            "kind": plan.kind,
            "person_id": plan.person_id,
            "payload": plan.payload(),
            "not_before": plan.not_before,
        }
        for plan in merge_planned(planned)
    ]
    return await outbox.enqueue_many(session=session, rows=rows, now=now)


def vn_date(day: date) -> str:
    return f"{day.day}/{day.month}/{day.year}"


def vn_int(value: int) -> str:
    return f"{value:,}".replace(",", ".")


# ------------------------------------------------------------------------------------ the query


@dataclass(frozen=True, slots=True)
class Owed:
    unit_id: int
    unit_code: str
    unit_name: str
    unit_path: str
    deliverable_id: int
    name_vi: str
    name_en: str
    position: int
    due_date: date

    def label(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi


async def _scope_path(session: AsyncSession, campaign: Campaign) -> str | None:
    if campaign.scope_unit_id is None:
        return None
    path = await session.scalar(
        select(col(Unit.path)).where(col(Unit.id) == campaign.scope_unit_id)
    )
    return path if path is not None else "~"  # a vanished scope unit matches nothing


def _owed_select(columns: Sequence[Any], campaign_id: int, scope_path: str | None) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(DeliverableDeadline)
        .join(Deliverable, col(Deliverable.id) == col(DeliverableDeadline.deliverable_id))
        .join(Unit, col(Unit.level_code) == col(DeliverableDeadline.level_code))
        .where(
            col(Deliverable.campaign_id) == campaign_id,
            col(Unit.active).is_(True),
            ~exists().where(
                col(Report.deliverable_id) == col(Deliverable.id),
                col(Report.unit_id) == col(Unit.id),
            ),
        )
    )
    if scope_path is not None:
        query = query.where(in_subtree(col(Unit.path), scope_path))
    return query


_OWED_COLUMNS = (
    col(Unit.id),
    col(Unit.code),
    col(Unit.name),
    col(Unit.path),
    col(Deliverable.id),
    col(Deliverable.name_vi),
    col(Deliverable.name_en),
    col(Deliverable.position),
    col(DeliverableDeadline.due_date),
)


async def owed(
    *,
    session: AsyncSession,
    campaign: Campaign,
    unit_ids: Collection[int] | None = None,
    due_on: Collection[date] | None = None,
    due_until: date | None = None,
    due_before: date | None = None,
) -> list[Owed]:
    """What units still owe in `campaign` (set-based: one query), optionally only for some units,
    deadlines on some dates, up to a date (inclusive) or before a date (exclusive)."""
    assert campaign.id is not None
    scope = await _scope_path(session, campaign)
    query = _owed_select(_OWED_COLUMNS, campaign.id, scope)
    if due_on is not None:
        query = query.where(col(DeliverableDeadline.due_date).in_(list(due_on)))
    if due_until is not None:
        query = query.where(col(DeliverableDeadline.due_date) <= due_until)
    if due_before is not None:
        query = query.where(col(DeliverableDeadline.due_date) < due_before)
    query = query.order_by(
        col(Unit.path), col(DeliverableDeadline.due_date), col(Deliverable.position)
    )
    if unit_ids is None:
        return [Owed(*row) for row in (await session.execute(query)).all()]
    ids = list(unit_ids)
    found: list[Owed] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = query.where(col(Unit.id).in_(ids[start : start + _CHUNK]))
        found.extend(Owed(*row) for row in (await session.execute(chunk)).all())
    return found


async def _triggered_units(
    session: AsyncSession, campaign: Campaign, due_on: Collection[date]
) -> list[int]:
    assert campaign.id is not None
    scope = await _scope_path(session, campaign)
    query = _owed_select([col(Unit.id)], campaign.id, scope).where(
        col(DeliverableDeadline.due_date).in_(list(due_on))
    )
    return sorted(set((await session.execute(query.distinct())).scalars().all()))


@dataclass(frozen=True, slots=True)
class _Recipient:
    person_id: int
    unit_id: int | None
    kind: str
    full_name: str
    lang: str


async def _role_holders(
    session: AsyncSession, kinds: Collection[str], unit_ids: Collection[int], *, global_too: bool
) -> list[_Recipient]:
    """Holders of roles of `kinds` on `unit_ids` (and on the whole tree when `global_too`)."""
    base = (
        select(
            col(Role.person_id),
            col(Role.unit_id),
            col(Role.kind),
            col(Person.full_name),
            col(Person.language),
        )
        .join(Person, col(Person.id) == col(Role.person_id))
        .where(col(Role.kind).in_(list(kinds)), col(Person.forgotten_at).is_(None))
    )
    rows: list[Any] = []
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = base.where(col(Role.unit_id).in_(ids[start : start + _CHUNK]))
        rows.extend((await session.execute(chunk)).all())
    if global_too:
        rows.extend((await session.execute(base.where(col(Role.unit_id).is_(None)))).all())
    return [
        _Recipient(pid, uid, kind, name, pick_language(language))
        for pid, uid, kind, name, language in rows
    ]


def _unit_label(row: Owed) -> str:
    return f"{row.unit_name} ({row.unit_code})"


def _item(row: Owed, today: date, lang: str) -> str:
    days = (row.due_date - today).days
    due = vn_date(row.due_date)
    if days > 0:
        return t("scheduler.item.upcoming", lang, deliverable=row.label(lang), due=due, days=days)
    if days == 0:
        return t("scheduler.item.today", lang, deliverable=row.label(lang), due=due)
    return t("scheduler.item.overdue", lang, deliverable=row.label(lang), due=due, days=-days)


def _local_now(now: datetime, tz: str) -> datetime:
    return require_aware(now).astimezone(ZoneInfo(tz))


# ------------------------------------------------------------------------------------ reminders


async def plan_reminders(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[PlannedMessage]:
    """Today's reminders for `campaign`: one per reporter per unit that owes something with a
    deadline at one of the reminder offsets today. Empty outside the day's send window."""
    rules = ReminderRules.from_definition(campaign.definition)
    if not in_send_window(now, campaign.timezone, rules):
        return []
    today = _local_now(now, campaign.timezone).date()
    trigger_dates = {today - timedelta(days=d) for d in rules.reminder_days()}
    unit_ids = await _triggered_units(session, campaign, trigger_dates)
    if not unit_ids:
        return []
    horizon = today + timedelta(days=rules.horizon_days())
    rows = await owed(session=session, campaign=campaign, unit_ids=unit_ids, due_until=horizon)
    by_unit: dict[int, list[Owed]] = defaultdict(list)
    for row in rows:
        by_unit[row.unit_id].append(row)
    reporters = await _role_holders(session, [ROLE_REPORTER], unit_ids, global_too=False)
    quiet = quiet_payload(campaign.timezone, rules)
    planned: list[PlannedMessage] = []
    for reporter in reporters:
        assert reporter.unit_id is not None
        items = by_unit.get(reporter.unit_id)
        if not items:
            continue
        lang = reporter.lang
        section = "\n".join(
            [
                t(
                    "scheduler.remind.unit",
                    lang,
                    unit=items[0].unit_name,
                    code=items[0].unit_code,
                    reference=campaign.reference,
                ),
                *(_item(row, today, lang) for row in items),
            ]
        )
        planned.append(
            PlannedMessage(
                key=f"remind:{reporter.person_id}:{reporter.unit_id}:{today.isoformat()}",
                kind=KIND_REMINDER,
                person_id=reporter.person_id,
                lang=lang,
                head=t("scheduler.remind.head", lang, name=reporter.full_name),
                sections=[section],
                foot=t("scheduler.remind.foot", lang),
                not_before=now,
                quiet=quiet,
                unit_ids=[reporter.unit_id],
            )
        )
    return planned


async def missed_reminders(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[str]:
    """Keys of yesterday's reminders that were never queued (the bot was down through the send
    window). They are not sent late; callers log them."""
    rules = ReminderRules.from_definition(campaign.definition)
    zone = ZoneInfo(campaign.timezone)
    yesterday = _local_now(now, campaign.timezone).date() - timedelta(days=1)
    at = datetime.combine(yesterday, time(rules.send_hour), tzinfo=zone)
    plans = await plan_reminders(session=session, campaign=campaign, now=at)
    keys = [plan.key for plan in plans]
    present = await outbox.existing_keys(session=session, keys=keys)
    return [key for key in keys if key not in present]


# ----------------------------------------------------------------------------------- escalation


async def plan_escalations(
    *, session: AsyncSession, campaign: Campaign, now: datetime
) -> list[PlannedMessage]:
    """Today's escalations for `campaign`: per supervisor/admin, one message listing the overdue
    units escalated to them (see the module docstring for who is told when)."""
    rules = ReminderRules.from_definition(campaign.definition)
    if not in_send_window(now, campaign.timezone, rules):
        return []
    today = _local_now(now, campaign.timezone).date()
    latest_due = today - timedelta(days=rules.escalation_grace_days)
    rows = await owed(session=session, campaign=campaign, due_before=latest_due)
    if not rows:
        return []
    by_unit: dict[int, list[Owed]] = defaultdict(list)
    for row in rows:
        by_unit[row.unit_id].append(row)
    ancestors = {uid: path_ids(items[0].unit_path) for uid, items in by_unit.items()}
    all_ids = {a for chain in ancestors.values() for a in chain}
    holders = await _role_holders(session, [ROLE_SUPERVISOR, ROLE_ADMIN], all_ids, global_too=True)
    supervisors: dict[int, list[_Recipient]] = defaultdict(list)
    admins_on: dict[int | None, list[_Recipient]] = defaultdict(list)
    for holder in holders:
        if holder.kind == ROLE_SUPERVISOR and holder.unit_id is not None:
            supervisors[holder.unit_id].append(holder)
        elif holder.kind == ROLE_ADMIN:
            admins_on[holder.unit_id].append(holder)

    told: dict[int, tuple[_Recipient, list[int]]] = {}
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
    planned: list[PlannedMessage] = []
    for person_id, (recipient, unit_ids) in told.items():
        lang = recipient.lang
        unit_ids.sort(key=lambda uid: by_unit[uid][0].unit_path)
        lines = [
            t(
                "scheduler.escalate.unit",
                lang,
                unit=_unit_label(by_unit[uid][0]),
                deliverables="\n".join(_item(row, today, lang) for row in by_unit[uid]),
            )
            for uid in unit_ids[:MAX_UNITS_LISTED]
        ]
        if len(unit_ids) > MAX_UNITS_LISTED:
            lines.append(
                t("scheduler.escalate.more", lang, count=vn_int(len(unit_ids) - MAX_UNITS_LISTED))
            )
        section = "\n".join(
            [
                t(
                    "scheduler.escalate.campaign",
                    lang,
                    campaign=campaign.name,
                    count=vn_int(len(unit_ids)),
                ),
                *lines,
            ]
        )
        planned.append(
            PlannedMessage(
                key=f"escalate:{person_id}:{today.isoformat()}",
                kind=KIND_ESCALATION,
                person_id=person_id,
                lang=lang,
                head=t(
                    "scheduler.escalate.head", lang, name=recipient.full_name, date=vn_date(today)
                ),
                sections=[section],
                foot=t("scheduler.escalate.foot", lang),
                not_before=now,
                quiet=quiet,
                unit_ids=list(unit_ids),
            )
        )
    return planned


# ---------------------------------------------------------------------------------------- nudge


class NudgeOutcome(enum.StrEnum):
    QUEUED = "queued"
    ALREADY_TODAY = "already_today"
    NOTHING_OWED = "nothing_owed"
    NO_REPORTER = "no_reporter"
    NO_UNIT = "no_unit"

    @property
    def queued(self) -> bool:
        return self is NudgeOutcome.QUEUED


async def open_campaigns_for_unit(*, session: AsyncSession, unit: Unit) -> list[Campaign]:
    """Open campaigns whose scope contains `unit` (its scope unit is the unit or an ancestor)."""
    query = (
        select(Campaign)
        .where(
            col(Campaign.status) == CAMPAIGN_OPEN,
            or_(
                col(Campaign.scope_unit_id).is_(None),
                col(Campaign.scope_unit_id).in_(path_ids(unit.path)),
            ),
        )
        .order_by(col(Campaign.id))
    )
    return list((await session.execute(query)).scalars().all())


async def nudge_unit(
    *, session: AsyncSession, unit_id: int, by_person_id: int, now: datetime
) -> NudgeOutcome:
    """Queue a nudge to every reporter of the unit listing all it owes in open campaigns; at most
    one per unit per local day. The caller checks that `by_person_id` may nudge this unit."""
    unit = await session.get(Unit, unit_id)
    if unit is None or not unit.active:
        return NudgeOutcome.NO_UNIT
    campaigns = await open_campaigns_for_unit(session=session, unit=unit)
    owed_by_campaign = [
        (c, await owed(session=session, campaign=c, unit_ids=[unit_id])) for c in campaigns
    ]
    owed_by_campaign = [(c, rows) for c, rows in owed_by_campaign if rows]
    if not owed_by_campaign:
        return NudgeOutcome.NOTHING_OWED
    reporters = await _role_holders(session, [ROLE_REPORTER], [unit_id], global_too=False)
    if not reporters:
        return NudgeOutcome.NO_REPORTER
    first = owed_by_campaign[0][0]
    rules = ReminderRules.from_definition(first.definition)
    today = _local_now(now, first.timezone).date()
    nudger = await session.get(Person, by_person_id)
    by_name = nudger.full_name if nudger is not None else "?"
    wait = quiet_hours_end(now, tz=first.timezone, start=rules.quiet_start, end=rules.quiet_end)
    planned = []
    for reporter in reporters:
        lang = reporter.lang
        sections = [
            "\n".join(
                [
                    t(
                        "scheduler.remind.unit",
                        lang,
                        unit=rows[0].unit_name,
                        code=rows[0].unit_code,
                        reference=campaign.reference,
                    ),
                    *(_item(row, today, lang) for row in rows),
                ]
            )
            for campaign, rows in owed_by_campaign
        ]
        planned.append(
            PlannedMessage(
                key=f"nudge:{unit_id}:{today.isoformat()}:{reporter.person_id}",
                kind=KIND_NUDGE,
                person_id=reporter.person_id,
                lang=lang,
                head=t("scheduler.nudge.head", lang, name=reporter.full_name, by=by_name),
                sections=sections,
                foot=t("scheduler.remind.foot", lang),
                not_before=wait or now,
                quiet=quiet_payload(first.timezone, rules),
                unit_ids=[unit_id],
            )
        )
    new = await enqueue_planned(session=session, planned=planned, now=now)
    return NudgeOutcome.QUEUED if new else NudgeOutcome.ALREADY_TODAY
