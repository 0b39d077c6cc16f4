"""Reminders (nhắc nhở), escalation (đôn đốc) and nudges: who must be told what, today.

Planning only, as data: `rules` (a campaign's reminder rules, quiet hours), `owed` (what units
still owe, who holds the roles), `plans` (`ReminderPlan`s: who is told what today), `caps` (the
weekly caps per person, counted over every campaign), `withdraw` (a queued reminder the unit
answered is not sent). The texts are
written above storage, in the reader's language, by `scheduler.reminders`, which also queues
them in the outbox, whose unique keys make every message at most once:

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
      days_off: [2016-07-27]        # besides weekends and Vietnam's public holidays (Tết too)
      escalation_weekdays: [monday, thursday]   # escalations: one list on these days only
      reminders_per_week: 3         # most reminders one reporter gets in a week ...
      escalations_per_week: 2       # ... and escalations one supervisor gets (all campaigns)

A supervisor may choose their own escalation weekdays (`/nhacnho caidat`, `preferences`); they
replace the campaign's for that person. No reminder and no escalation goes out on a day off
(weekend, public holiday from the `holidays` library, the campaign's `days_off`), unless a
deadline is that very day (its reminder still goes).

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

from storage.campaign_status import CAMPAIGN_OPEN
from storage.reminders.owed import (
    Contact,
    Owed,
    Recipient,
    chat_reach,
    open_campaigns_for_unit,
    owed,
    reporter_contacts,
    role_holders,
)
from storage.reminders.plans import (
    KIND_ESCALATION,
    KIND_NUDGE,
    KIND_REMINDER,
    NudgeOutcome,
    PlanSection,
    ReminderPlan,
    escalation_plans,
    local_today,
    nudge_plans,
    reminder_plans,
    yesterdays_send_time,
)
from storage.reminders.rules import (
    ReminderRules,
    in_quiet_hours,
    in_send_window,
    parse_hhmm,
    quiet_hours_end,
    quiet_payload,
)

__all__ = [
    "CAMPAIGN_OPEN",
    "KIND_ESCALATION",
    "KIND_NUDGE",
    "KIND_REMINDER",
    "Contact",
    "NudgeOutcome",
    "Owed",
    "PlanSection",
    "Recipient",
    "ReminderPlan",
    "ReminderRules",
    "chat_reach",
    "escalation_plans",
    "in_quiet_hours",
    "in_send_window",
    "local_today",
    "nudge_plans",
    "open_campaigns_for_unit",
    "owed",
    "parse_hhmm",
    "quiet_hours_end",
    "quiet_payload",
    "reminder_plans",
    "reporter_contacts",
    "role_holders",
    "yesterdays_send_time",
]
