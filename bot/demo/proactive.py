"""What the demo's proactive messages did, for the summary (texts from the catalog, `demo.*`):
how many reminders, escalations and digests went out, how many reminders were withdrawn because
the unit had reported, none on a day off, at most N escalations a week to any one person.

Read from the outbox: a message is on a day off when the local day it was planned for (the date
in its key, `remind:…:<date>`, `escalate:…:<date>`) or the local day it was sent is one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from storage.i18n import t
from storage.i18n.formatting import number
from storage.reminders.days_off import is_day_off

SENT = "sent"
WITHDRAWN = "withdrawn"
TOLD = ("reminder", "escalation")  # the kinds that never go out on a day off
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True, slots=True)
class Row:
    """One outbox row as the demo reads it back."""

    key: str
    kind: str
    person_id: int | None
    status: str
    sent_at: datetime | None


def key_day(key: str) -> date | None:
    """The local day a reminder/escalation/nudge key was planned for."""
    for part in reversed(key.split(":")):
        try:
            return date.fromisoformat(part)
        except ValueError:
            continue
    return None


def days_of(row: Row, tz: ZoneInfo = TZ) -> set[date]:
    """The local days a row concerns: planned for, and sent on."""
    days = {day} if (day := key_day(row.key)) is not None else set()
    if row.sent_at is not None:
        days.add(row.sent_at.astimezone(tz).date())
    return days


@dataclass(frozen=True)
class Proactive:
    sent: Counter[str]  # kind -> sent
    withdrawn: int  # reminders and nudges the unit answered before they went out
    failed: int  # not sent (failed or never delivered)
    on_days_off: int  # reminders and escalations planned or sent on a weekend or public holiday
    max_escalations_a_week: int  # sent to any one person in any one week


def proactive_facts(rows: Iterable[Row]) -> Proactive:
    sent: Counter[str] = Counter()
    withdrawn = failed = on_days_off = 0
    per_week: Counter[tuple[int | None, int, int]] = Counter()
    for row in rows:
        if row.status == SENT:
            sent[row.kind] += 1
        elif row.status == WITHDRAWN:
            withdrawn += 1
            continue
        else:
            failed += 1
        if row.kind not in TOLD:
            continue
        days = days_of(row)
        if any(is_day_off(day) for day in days):
            on_days_off += 1
        if row.kind == "escalation" and row.status == SENT:
            iso = min(days).isocalendar()
            per_week[(row.person_id, iso.year, iso.week)] += 1
    return Proactive(sent, withdrawn, failed, on_days_off, max(per_week.values(), default=0))


def summary_lines(facts: Proactive, lang: str = "vi") -> list[str]:
    sent = facts.sent
    lines = [
        t(
            "demo.summary.sent",
            lang,
            reminders=number(sent["reminder"], lang),
            escalations=number(sent["escalation"], lang),
            digests=number(sent["digest"], lang),
        )
    ]
    if sent["nudge"]:
        lines.append(t("demo.summary.nudges", lang, count=number(sent["nudge"], lang)))
    if facts.withdrawn:
        lines.append(t("demo.summary.withdrawn", lang, count=number(facts.withdrawn, lang)))
    if facts.failed:
        lines.append(t("demo.summary.failed", lang, count=number(facts.failed, lang)))
    if facts.on_days_off == 0:
        lines.append(t("demo.summary.no_days_off", lang))
    else:
        lines.append(t("demo.summary.days_off", lang, count=number(facts.on_days_off, lang)))
    lines.append(
        t(
            "demo.summary.escalations_a_week",
            lang,
            count=number(facts.max_escalations_a_week, lang),
        )
    )
    return lines
