"""Editing a campaign through a form (no YAML): name, reference, resolution, dates, each
deliverable's deadline per level and the levels it applies to, reporting groups, reminder rules,
quiet hours, review. The levels are the tree's levels (`storage.units.list_levels`); the rest of
the stored definition (forms, digest, scope ...) is kept as it is. What is typed becomes plain
data checked by `storage.campaigns.validate_definition`, the check `cadrebot campaign load`
runs; every problem is shown beside its field in the reader's language, nothing written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from starlette.datastructures import FormData

from bot.web.campaign_form import TEXT_FIELDS
from bot.web.fields import FieldProblem, clean_value
from storage.campaigns import CampaignDefinition, DefinitionError, LineProblem, validate_definition
from storage.i18n import t
from storage.i18n.formatting import level_label, name_in
from storage.models import Level
from storage.text_clean import NUL, clean, has_control

GROUP_LABEL_LIMIT = 120  # ReportingGroupDecl.label_vi
SPARE_GROUPS = 2  # empty rows to add a reporting group
SHORT = 32  # longest date, time or number shown back as typed
MAX_OFFSETS = 10
MAX_OFFSET_DAYS = 90
NUMBERS = ("overdue_every_days", "overdue_cap", "send_hour")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class Layout:
    """What the form shows: the tree's levels, the campaign's deliverables, the group rows."""

    levels: list[tuple[str, str]]  # code, label
    deliverables: list[tuple[str, str]]  # key, name
    groups: int

    @classmethod
    def of(cls, base: CampaignDefinition, levels: list[Level], lang: str) -> Layout:
        return cls(
            levels=[(level.code, level_label(level, lang)) for level in levels],
            deliverables=[(item.key, name_in(item, lang)) for item in base.deliverables],
            groups=len(base.campaign.reporting_groups) + SPARE_GROUPS,
        )


def due_name(key: str, level: str) -> str:
    return f"due__{key}__{level}"


def on_name(key: str, level: str) -> str:
    return f"on__{key}__{level}"


def group_label_name(row: int) -> str:
    return f"group__{row}__label"


def group_level_name(row: int, level: str) -> str:
    return f"group__{row}__{level}"


@dataclass
class EditForm:
    """The values as shown, the ticked boxes, and the problems per field (in order)."""

    values: dict[str, str]
    ticked: set[str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the form row of each group kept

    def refuse(self, name: str, label: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)
        self.summary.append(f"{label}: {message}")


def values_of(definition: CampaignDefinition, layout: Layout) -> EditForm:
    """The form filled in from a stored definition."""
    info = definition.campaign
    rules = info.reminders
    values = {
        "name": info.name,
        "reference": info.reference,
        "resolution": info.resolution,
        "start_date": typed_day(info.start_date),
        "end_date": typed_day(info.end_date) if info.end_date else "",
        "remind_before": ", ".join(str(-d) for d in sorted(rules.offsets_days) if d <= 0),
        "overdue_every_days": str(rules.overdue_every_days),
        "overdue_cap": str(rules.overdue_cap),
        "send_hour": str(rules.send_hour),
        "quiet_start": rules.quiet_hours.start.strftime("%H:%M"),
        "quiet_end": rules.quiet_hours.end.strftime("%H:%M"),
    }
    ticked = {"review_required"} if info.review_required else set()
    for item in definition.deliverables:
        for level, due in item.deadlines.items():
            values[due_name(item.key, level)] = typed_day(due)
            ticked.add(on_name(item.key, level))
    for row, group in enumerate(info.reporting_groups):
        values[group_label_name(row)] = group.label_vi
        ticked.update(group_level_name(row, level) for level in group.levels)
    return EditForm(values, ticked)


def label_of(name: str, layout: Layout, lang: str) -> str:
    """The field's name as the reader sees it, for the list of problems."""
    parts = name.split("__")
    levels = dict(layout.levels)
    titles = dict(layout.deliverables)
    if parts[0] in ("due", "on") and len(parts) == 3:
        level = levels.get(parts[2], parts[2])
        return t("web.campaign_form.deadline", lang, deliverable=titles[parts[1]], level=level)
    if parts[0] == "deliverable":
        return titles[parts[1]]
    if parts[0] == "group":
        return t("web.campaign_edit.group_n", lang, n=int(parts[1]) + 1)
    if name in (*TEXT_FIELDS, "start_date"):
        return t(f"web.campaign_form.{name}", lang)
    return t(f"web.campaign_edit.{name}", lang)


def _shown(raw: object, limit: int = SHORT) -> str:
    text = raw if isinstance(raw, str) else ""
    return clean(text.replace(NUL, ""))[:limit]


def typed_day(day: date) -> str:
    """A date as the form shows it and a cadre types it: 30/9/2026."""
    return f"{day.day}/{day.month}/{day.year}"


def _day(raw: str) -> date | None:
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


class _Reader:
    """Reads one posted form against the layout, noting each problem beside its field."""

    def __init__(self, form: FormData, layout: Layout, lang: str) -> None:
        self.form, self.layout, self.lang = form, layout, lang
        self.filled = EditForm({}, {k for k in form if form.get(k) == "on"})

    def refuse(self, name: str, key: str, **params: object) -> None:
        message = t(f"web.campaign_edit.{key}", self.lang, **params)
        self.filled.refuse(name, label_of(name, self.layout, self.lang), message)

    def text(self, name: str, limit: int) -> str:
        raw = self.form.get(name, "")
        self.filled.values[name] = _shown(raw, limit * 2)
        try:
            value = clean_value(raw, limit=limit, strict=True)
        except FieldProblem as problem:
            label = label_of(name, self.layout, self.lang)
            self.filled.refuse(name, label, problem.message(self.lang, label))
            return ""
        if not value:
            self.refuse(name, "required")
        return value

    def short(self, name: str) -> str | None:
        """A date, time or number field, stripped; None if too long or with a control."""
        raw = self.form.get(name, "")
        shown = self.filled.values[name] = _shown(raw)
        usable = isinstance(raw, str) and len(raw) <= SHORT and not has_control(raw)
        return shown.strip() if usable else None

    def day(self, name: str, *, optional: bool = False) -> date | None:
        raw = self.short(name)
        if optional and raw == "":
            return None
        value = _day(raw or "")
        if value is None:
            key = "no_date" if raw == "" else "bad_date"
            self.refuse(name, key, value=self.filled.values[name])
        return value

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

    def offsets(self) -> list[int]:
        raw = self.short("remind_before")
        words = [w for w in re.split(r"[,;\s]+", raw or "") if w]
        if raw is None:
            words = ["x"]
        good = all(w.isascii() and w.isdigit() and len(w) <= 2 for w in words)
        if not good or len(words) > MAX_OFFSETS or any(int(w) > MAX_OFFSET_DAYS for w in words):
            self.refuse("remind_before", "bad_offsets", most=MAX_OFFSETS, days=MAX_OFFSET_DAYS)
            return []
        return sorted({-int(w) for w in words})


def read_form(
    form: FormData, base: CampaignDefinition, layout: Layout, lang: str
) -> tuple[EditForm, CampaignDefinition | None]:
    """The edited definition, or None with every problem noted (nothing is written here)."""
    read = _Reader(form, layout, lang)
    data: dict[str, Any] = base.model_dump(mode="python")
    info = data["campaign"]
    for name, limit in TEXT_FIELDS.items():
        info[name] = read.text(name, limit)
    info["start_date"] = read.day("start_date")
    info["end_date"] = read.day("end_date", optional=True)
    info["review_required"] = "review_required" in read.filled.ticked
    rules = info["reminders"]
    kept_after = [d for d in rules["offsets_days"] if d > 0]  # only YAML sets these
    rules["offsets_days"] = read.offsets() + kept_after
    for name in NUMBERS:
        rules[name] = read.number(name)
    rules["quiet_hours"] = {"start": read.hour_minute("quiet_start")}
    rules["quiet_hours"]["end"] = read.hour_minute("quiet_end")
    codes = [code for code, _ in layout.levels]
    for item in data["deliverables"]:
        item["deadlines"] = {}
        for level in codes:
            read.short(due_name(item["key"], level))  # shown back even when not ticked
            if on_name(item["key"], level) in read.filled.ticked:
                item["deadlines"][level] = read.day(due_name(item["key"], level))
        if not item["deadlines"]:
            read.refuse(f"deliverable__{item['key']}", "no_level")
    read.filled.rows = _groups(read, info["reporting_groups"], codes)
    if read.filled.summary:
        return read.filled, None
    try:
        return read.filled, validate_definition(data)
    except DefinitionError as exc:
        take_problems(read.filled, exc.problems, layout, lang)
        return read.filled, None


def _groups(read: _Reader, old: list[dict[str, Any]], codes: list[str]) -> list[int]:
    """The reporting groups typed (empty rows dropped); the form row of each, in order."""
    groups: list[dict[str, Any]] = []
    rows: list[int] = []
    taken = {group["code"] for group in old}
    for row in range(read.layout.groups):
        name = group_label_name(row)
        levels = [c for c in codes if group_level_name(row, c) in read.filled.ticked]
        raw = read.form.get(name, "")
        if isinstance(raw, str) and not raw.strip() and not levels:
            read.filled.values[name] = ""
            continue
        label = read.text(name, GROUP_LABEL_LIMIT)
        if not levels:
            read.refuse(name, "group_no_level")
        if row < len(old):
            code = old[row]["code"]
            english = old[row]["label_en"] if label == old[row]["label_vi"] else label
        else:
            code = next(f"nhom_{n}" for n in range(row + 1, row + 100) if f"nhom_{n}" not in taken)
            taken.add(code)
            english = label
        groups.append({"code": code, "label_vi": label, "label_en": english, "levels": levels})
        rows.append(row)
    old[:] = groups
    return rows


def field_of(loc: tuple[str | int, ...], layout: Layout, rows: list[int]) -> str:
    """The form field a definition problem's path points at ("" for the form as a whole)."""
    keys = [key for key, _ in layout.deliverables]
    match loc:
        case ("campaign", "reminders", "offsets_days", *_):
            return "remind_before"
        case ("campaign", "reminders", "quiet_hours", edge, *_):
            return f"quiet_{edge}"
        case ("campaign", "reminders", name, *_) if name in NUMBERS:
            return str(name)
        case ("campaign", "reporting_groups", int(index), *_) if index < len(rows):
            return group_label_name(rows[index])
        case ("campaign", "reporting_groups", *_):
            return "groups"
        case ("campaign", name, *_) if name in (*TEXT_FIELDS, "start_date", "end_date"):
            return str(name)
        case ("deliverables", int(index), "deadlines", str(level)) if index < len(keys):
            return due_name(keys[index], level)
        case ("deliverables", int(index), *_) if index < len(keys):
            return f"deliverable__{keys[index]}"
    return ""


def take_problems(filled: EditForm, problems: list[LineProblem], layout: Layout, lang: str) -> None:
    """Note the problems `validate_definition` or `load_campaign` found beside their fields."""
    for problem in problems:
        name = field_of(problem.loc, layout, filled.rows)
        label = label_of(name, layout, lang) if name else t("web.campaign_edit.whole", lang)
        filled.refuse(name, label, problem.message(lang))
