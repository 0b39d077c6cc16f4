"""Reading one posted campaign form field by field: text through the one cleaner, dates typed as
30/9/2026 or 2026-09-30, whole numbers, times, lists of dates and picks from a list. Each field
is shown back as typed (cleaned, shortened) and each problem is noted beside its field, in the
reader's language; the caller turns the values into plain definition data."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, time

from starlette.datastructures import FormData

from bot.web.fields import FieldProblem, clean_value
from storage.i18n import t
from storage.i18n.formatting import number
from storage.text_clean import NUL, clean, has_control

SHORT = 32  # longest date, time or number shown back as typed
DAYS_LIMIT = 1200  # the days-off field: about a hundred dates
MAX_OFFSETS = 10
MAX_OFFSET_DAYS = 90
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_WORDS = re.compile(r"[,;\s]+")


@dataclass
class EditForm:
    """The values as shown, the ticked boxes, and the problems per field (in order)."""

    values: dict[str, str]
    ticked: set[str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the form row of each group kept
    items: list[str] = field(default_factory=list)  # the form key of each deliverable kept

    def refuse(self, name: str, label: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)
        self.summary.append(f"{label}: {message}")


def typed_day(day: date) -> str:
    """A date as the form shows it and a cadre types it: 30/9/2026."""
    return f"{day.day}/{day.month}/{day.year}"


def typed_days(days: Collection[date]) -> str:
    return ", ".join(typed_day(day) for day in sorted(days))


def parse_day(raw: str) -> date | None:
    """A date typed as 2026-09-30 (the browser's date field) or 30/9/2026; None if impossible."""
    text = raw.strip()
    iso, dmy = _ISO.match(text), _DMY.match(text)
    try:
        if iso is not None:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dmy is not None:
            return date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
    except ValueError:
        return None
    return None


def _shown(raw: object, limit: int = SHORT) -> str:
    text = raw if isinstance(raw, str) else ""
    return clean(text.replace(NUL, ""))[:limit]


class Reader:
    """Reads one posted form, noting each problem beside its field (`label_of` names it)."""

    def __init__(self, form: FormData, label_of: Callable[[str], str], lang: str) -> None:
        self.form, self.label_of, self.lang = form, label_of, lang
        self.filled = EditForm({}, {k for k in form if form.get(k) == "on"})

    def refuse(self, name: str, key: str, **params: object) -> None:
        message = t(f"web.campaign_edit.{key}", self.lang, **params)
        self.filled.refuse(name, self.label_of(name), message)

    def text(self, name: str, limit: int, *, optional: bool = False) -> str:
        raw = self.form.get(name, "")
        self.filled.values[name] = _shown(raw, limit * 2)
        try:
            value = clean_value(raw, limit=limit, strict=True)
        except FieldProblem as problem:
            label = self.label_of(name)
            self.filled.refuse(name, label, problem.message(self.lang, label))
            return ""
        if not value and not optional:
            self.refuse(name, "required")
        return value

    def short(self, name: str, limit: int = SHORT) -> str | None:
        """A date, time or number field, stripped; None if too long or with a control."""
        raw = self.form.get(name, "")
        shown = self.filled.values[name] = _shown(raw, limit)
        usable = isinstance(raw, str) and len(raw) <= limit and not has_control(raw)
        return shown.strip() if usable else None

    def day(self, name: str, *, optional: bool = False) -> date | None:
        raw = self.short(name)
        if optional and raw == "":
            return None
        value = parse_day(raw or "")
        if value is None:
            key = "no_date" if raw == "" else "bad_date"
            self.refuse(name, key, value=self.filled.values[name])
        return value

    def days(self, name: str) -> list[date]:
        """Dates separated by commas or spaces (none: an empty list); each bad one refused."""
        raw = self.short(name, DAYS_LIMIT)
        if raw is None:
            self.refuse(name, "bad_days", most=number(DAYS_LIMIT, self.lang))
            return []
        found: set[date] = set()
        for word in (w for w in _WORDS.split(raw) if w):
            day = parse_day(word)
            if day is None:
                self.refuse(name, "bad_date", value=word[:SHORT])
            else:
                found.add(day)
        return sorted(found)

    def number(self, name: str) -> int | None:
        raw = self.short(name) or ""
        if raw.isascii() and raw.isdigit() and len(raw) <= 3:
            return int(raw)
        self.refuse(name, "not_a_number", value=self.filled.values[name])
        return None

    def hour_minute(self, name: str) -> time | None:
        match = _HHMM.match(self.short(name) or "")
        if match is not None and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        self.refuse(name, "bad_time", value=self.filled.values[name])
        return None

    def pick(self, name: str, allowed: Collection[str], *, optional: bool = False) -> str | None:
        """One of `allowed` (a select's options); "" when `optional` and nothing is picked."""
        raw = self.short(name, 64)
        if raw in allowed or (optional and raw == ""):
            return raw
        self.refuse(name, "not_offered", value=self.filled.values[name])
        return None

    def offsets(self) -> list[int]:
        raw = self.short("remind_before")
        words = [w for w in _WORDS.split(raw or "") if w]
        if raw is None:
            words = ["x"]
        good = all(w.isascii() and w.isdigit() and len(w) <= 2 for w in words)
        if not good or len(words) > MAX_OFFSETS or any(int(w) > MAX_OFFSET_DAYS for w in words):
            self.refuse("remind_before", "bad_offsets", most=MAX_OFFSETS, days=MAX_OFFSET_DAYS)
            return []
        return sorted({-int(w) for w in words})
