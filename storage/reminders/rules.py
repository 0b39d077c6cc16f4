"""A campaign's reminder rules (offsets, overdue cadence, send hour, quiet hours, escalation)
and the quiet-hours arithmetic the planner and the sender share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storage.clock import require_aware

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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
    days_off: frozenset[date] = frozenset()
    escalation_weekdays: frozenset[int] = frozenset({0, 3})  # Monday, Thursday
    reminders_per_week: int = 3
    escalations_per_week: int = 2

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
                days_off=frozenset(
                    day if isinstance(day, date) else date.fromisoformat(str(day))
                    for day in raw.get("days_off", ())
                ),
                escalation_weekdays=frozenset(
                    WEEKDAYS.index(str(name).lower())
                    for name in raw.get("escalation_weekdays", ("monday", "thursday"))
                ),
                reminders_per_week=int(raw.get("reminders_per_week", base.reminders_per_week)),
                escalations_per_week=int(
                    raw.get("escalations_per_week", base.escalations_per_week)
                ),
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
