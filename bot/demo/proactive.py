"""What the demo's proactive messages did, in plain Vietnamese for the summary: how many
reminders, escalations and digests went out, none on a day off, at most N escalations a week
to any one person. Read from the outbox keys (`remind:…:<date>`, `escalate:…:<date>`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from storage.i18n.formatting import number
from storage.reminders.days_off import is_day_off

SENT = "sent"


def key_day(key: str) -> date | None:
    """The local day a reminder/escalation/nudge key was planned for."""
    for part in reversed(key.split(":")):
        try:
            return date.fromisoformat(part)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Proactive:
    sent: Counter[str]  # kind -> sent
    failed: int  # not sent (failed or never delivered)
    on_days_off: int  # reminders and escalations dated on a weekend or public holiday
    max_escalations_a_week: int  # to any one person in any one week


def proactive_facts(rows: Iterable[tuple[str, str, int | None, str]]) -> Proactive:
    sent: Counter[str] = Counter()
    failed = on_days_off = 0
    per_week: Counter[tuple[int | None, int, int]] = Counter()
    for key, kind, person_id, status in rows:
        if status == SENT:
            sent[kind] += 1
        else:
            failed += 1
        day = key_day(key) if kind in ("reminder", "escalation") else None
        if day is None:
            continue
        if is_day_off(day):
            on_days_off += 1
        if kind == "escalation":
            iso = day.isocalendar()
            per_week[(person_id, iso.year, iso.week)] += 1
    return Proactive(sent, failed, on_days_off, max(per_week.values(), default=0))


def summary_lines(facts: Proactive) -> list[str]:
    sent = facts.sent
    lines = [
        f"Đã gửi {number(sent['reminder'])} lời nhắc báo cáo, {number(sent['escalation'])} "
        f"tin đôn đốc tới các đồng chí theo dõi, {number(sent['digest'])} bản tổng hợp tuần"
        + (f" và {number(sent['nudge'])} lời nhắc trực tiếp (/nhacnho)" if sent["nudge"] else "")
        + "."
    ]
    if facts.failed:
        lines.append(f"Chưa gửi được {number(facts.failed)} tin (người nhận chưa kết nối).")
    if facts.on_days_off == 0:
        lines.append("Không có lời nhắc hay tin đôn đốc nào vào thứ Bảy, Chủ nhật hoặc ngày lễ.")
    else:
        lines.append(
            f"Có {number(facts.on_days_off)} lời nhắc hoặc tin đôn đốc vào ngày nghỉ "
            "(đều là ngày hết hạn)."
        )
    lines.append(
        "Mỗi đồng chí theo dõi nhận nhiều nhất "
        f"{number(facts.max_escalations_a_week)} tin đôn đốc trong một tuần."
    )
    return lines
