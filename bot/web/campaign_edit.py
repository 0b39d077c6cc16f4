"""Editing a campaign through a form (no YAML): name, reference, resolution, dates, scope, time
zone; each deliverable's deadline per level and the levels it applies to, removing one, adding
one of the template's kinds (`storage.campaigns.deliverable_kinds`: its questions come with it);
reporting groups; reminder rules, quiet hours, days off, escalation; the digest's day and time;
review. The levels are the tree's levels (`storage.units.list_levels`); the rest of the stored
definition (the forms, the reminder rules only YAML sets) is kept as it is. What is typed
becomes plain data checked by `storage.campaigns.validate_definition`, the check `cadrebot
campaign load` runs; every problem is shown beside its field in the reader's language, nothing
written (`bot.web.campaign_reader` reads the fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from bot.web.campaign_form import TEXT_FIELDS
from bot.web.campaign_reader import EditForm, Reader, typed_day, typed_days
from storage.campaigns import (
    WEEKDAYS,
    CampaignDefinition,
    DefinitionError,
    LineProblem,
    add_deliverable,
    deliverable_kinds,
    timezones,
    validate_definition,
)
from storage.i18n import t
from storage.i18n.formatting import in_sentence, level_label, name_in
from storage.models import Level

GROUP_LABEL_LIMIT = 120  # ReportingGroupDecl.label_vi
NAME_LIMIT = 255  # DeliverableDecl.name_vi
SCOPE_LIMIT = 64  # a unit code
SPARE_GROUPS = 2  # empty rows to add a reporting group
NEW_ROWS = 1  # empty rows to add a deliverable (save, and another row appears)
NUMBERS = (
    "overdue_every_days",
    "overdue_cap",
    "send_hour",
    "escalation_grace_days",
    "escalation_up_days",
)


@dataclass(frozen=True)
class Layout:
    """What the form shows: the tree's levels, the campaign's deliverables, the rows to add a
    deliverable, the kinds it may be, the group rows, the weekdays and time zones offered."""

    levels: list[tuple[str, str]]  # code, label
    deliverables: list[tuple[str, str]]  # key, name
    new_rows: list[tuple[str, str]]  # form key ("new-0"), title
    kinds: list[tuple[str, str]]  # kind, name
    groups: int
    weekdays: list[tuple[str, str]]  # value, label
    zones: list[tuple[str, str]]  # value, label: the IANA time zones
    scopes: list[tuple[str, str]]  # code, name: the units offered as the campaign's scope

    @classmethod
    def of(
        cls,
        base: CampaignDefinition,
        levels: list[Level],
        lang: str,
        scopes: list[tuple[str, str]] | None = None,
    ) -> Layout:
        return cls(
            scopes=scopes or [],
            levels=[(level.code, level_label(level, lang)) for level in levels],
            deliverables=[(item.key, name_in(item, lang)) for item in base.deliverables],
            new_rows=[
                (f"new-{n}", t("web.campaign_edit.new_n", lang, n=n + 1)) for n in range(NEW_ROWS)
            ],
            kinds=[(kind.key, name_in(kind, lang)) for kind in deliverable_kinds()],
            groups=len(base.campaign.reporting_groups) + SPARE_GROUPS,
            weekdays=[(day, t(f"nudge.day.{day[:3]}", lang)) for day in WEEKDAYS],
            zones=[(zone, zone) for zone in timezones()],
        )

    def title(self, key: str) -> str:
        return dict(self.deliverables + self.new_rows).get(key, key)


def due_name(key: str, level: str) -> str:
    return f"due__{key}__{level}"


def on_name(key: str, level: str) -> str:
    return f"on__{key}__{level}"


def group_label_name(row: int, english: bool = False) -> str:
    return f"group__{row}__label_en" if english else f"group__{row}__label"


def group_level_name(row: int, level: str) -> str:
    return f"group__{row}__{level}"


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
        "scope": info.scope or "",
        "timezone": info.timezone,
        "remind_before": ", ".join(str(-d) for d in sorted(rules.offsets_days) if d <= 0),
        "quiet_start": rules.quiet_hours.start.strftime("%H:%M"),
        "quiet_end": rules.quiet_hours.end.strftime("%H:%M"),
        "days_off": typed_days(rules.days_off),
        "digest_weekday": info.digest.weekday,
        "digest_time": info.digest.time.strftime("%H:%M"),
    }
    values.update((name, str(getattr(rules, name))) for name in NUMBERS)
    ticked = {"review_required"} if info.review_required else set()
    for item in definition.deliverables:
        for level, due in item.deadlines.items():
            values[due_name(item.key, level)] = typed_day(due)
            ticked.add(on_name(item.key, level))
    for row, group in enumerate(info.reporting_groups):
        values[group_label_name(row)] = group.label_vi
        values[group_label_name(row, english=True)] = group.label_en
        ticked.update(group_level_name(row, level) for level in group.levels)
    return EditForm(values, ticked)


def label_of(name: str, layout: Layout, lang: str) -> str:
    """The field's name as the reader sees it, for the list of problems."""
    parts = name.split("__")
    if parts[0] in ("due", "on") and len(parts) == 3:
        level = in_sentence(dict(layout.levels).get(parts[2], parts[2]))
        deliverable = layout.title(parts[1])
        return t("web.campaign_form.deadline", lang, deliverable=deliverable, level=level)
    if parts[0] == "deliverable":
        return layout.title(parts[1])
    if parts[0] in ("kind", "name", "name_en") and len(parts) == 2:
        field = t(f"web.campaign_edit.new_{parts[0]}", lang)
        return f"{layout.title(parts[1])} — {field}"
    if parts[0] == "group":
        return t("web.campaign_edit.group_n", lang, n=int(parts[1]) + 1)
    if name in (*TEXT_FIELDS, "start_date"):
        return t(f"web.campaign_form.{name}", lang)
    return t(f"web.campaign_edit.{name}", lang)


def read_form(
    form: FormData, base: CampaignDefinition, layout: Layout, lang: str
) -> tuple[EditForm, CampaignDefinition | None]:
    """The edited definition, or None with every problem noted (nothing is written here)."""
    read = Reader(form, lambda name: label_of(name, layout, lang), lang)
    data: dict[str, Any] = base.model_dump(mode="python")
    info = data["campaign"]
    for name, limit in TEXT_FIELDS.items():
        info[name] = read.text(name, limit)
    info["start_date"] = read.day("start_date")
    info["end_date"] = read.day("end_date", optional=True)
    info["scope"] = read.text("scope", SCOPE_LIMIT, optional=True) or None
    info["timezone"] = read.pick("timezone", timezones())
    info["review_required"] = "review_required" in read.filled.ticked
    rules = info["reminders"]
    kept_after = [d for d in rules["offsets_days"] if d > 0]  # only YAML sets these
    rules["offsets_days"] = read.offsets() + kept_after
    for name in NUMBERS:
        rules[name] = read.number(name)
    rules["quiet_hours"] = {"start": read.hour_minute("quiet_start")}
    rules["quiet_hours"]["end"] = read.hour_minute("quiet_end")
    rules["days_off"] = read.days("days_off")
    info["digest"] = {"weekday": read.pick("digest_weekday", WEEKDAYS)}
    info["digest"]["time"] = read.hour_minute("digest_time")
    read.filled.items = _deliverables(read, data, layout)
    read.filled.rows = _groups(read, info["reporting_groups"], layout)
    if read.filled.summary:
        return read.filled, None
    try:
        return read.filled, validate_definition(data)
    except DefinitionError as exc:
        take_problems(read.filled, exc.problems, layout, lang)
        return read.filled, None


def _deadlines(read: Reader, key: str, codes: list[str]) -> dict[str, Any]:
    """The ticked levels' deadlines of the deliverable (or new row) `key`; none: refused."""
    deadlines: dict[str, Any] = {}
    for level in codes:
        read.short(due_name(key, level))  # shown back even when not ticked
        if on_name(key, level) in read.filled.ticked:
            deadlines[level] = read.day(due_name(key, level))
    if not deadlines:
        read.refuse(f"deliverable__{key}", "no_level")
    return deadlines


def _deliverables(read: Reader, data: dict[str, Any], layout: Layout) -> list[str]:
    """The deliverables kept (a ticked "remove" drops one) and added; the form key of each."""
    codes = [code for code, _ in layout.levels]
    kept: list[dict[str, Any]] = []
    for item in data["deliverables"]:
        if f"drop__{item['key']}" in read.filled.ticked:
            for level in codes:
                read.short(due_name(item["key"], level))
            continue
        item["deadlines"] = _deadlines(read, item["key"], codes)
        kept.append(item)
    taken = [item["key"] for item in data["deliverables"]]
    data["deliverables"] = kept
    keys = [item["key"] for item in kept]
    kinds = [kind for kind, _ in layout.kinds]
    for key, _ in layout.new_rows:
        kind = read.pick(f"kind__{key}", kinds, optional=True)
        levels = [level for level in codes if on_name(key, level) in read.filled.ticked]
        raw_name = read.form.get(f"name__{key}", "")
        if kind == "" and not levels and not (isinstance(raw_name, str) and raw_name.strip()):
            for level in codes:
                read.short(due_name(key, level))
            read.filled.values[f"name__{key}"] = read.filled.values[f"name_en__{key}"] = ""
            continue  # an empty row: nothing added
        if kind == "":
            read.refuse(f"kind__{key}", "no_kind")
        name_vi = read.text(f"name__{key}", NAME_LIMIT)
        name_en = read.text(f"name_en__{key}", NAME_LIMIT, optional=True)
        deadlines = _deadlines(read, key, codes)
        if kind:
            add_deliverable(
                data, kind=kind, name_vi=name_vi, name_en=name_en, deadlines=deadlines, taken=taken
            )
            keys.append(key)
    return keys


def _groups(read: Reader, old: list[dict[str, Any]], layout: Layout) -> list[int]:
    """The reporting groups typed (empty rows dropped); the form row of each, in order. An
    empty English label is the Vietnamese one (the form says so beside the field)."""
    groups: list[dict[str, Any]] = []
    rows: list[int] = []
    taken = {group["code"] for group in old}
    codes = [code for code, _ in layout.levels]
    for row in range(layout.groups):
        name, english_name = group_label_name(row), group_label_name(row, english=True)
        levels = [c for c in codes if group_level_name(row, c) in read.filled.ticked]
        raw = read.form.get(name, "")
        if isinstance(raw, str) and not raw.strip() and not levels:
            read.filled.values[name] = read.filled.values[english_name] = ""
            continue
        label = read.text(name, GROUP_LABEL_LIMIT)
        english = read.text(english_name, GROUP_LABEL_LIMIT, optional=True) or label
        if not levels:
            read.refuse(name, "group_no_level")
        if row < len(old):
            code = old[row]["code"]
        else:
            code = next(f"nhom_{n}" for n in range(row + 1, row + 100) if f"nhom_{n}" not in taken)
            taken.add(code)
        groups.append({"code": code, "label_vi": label, "label_en": english, "levels": levels})
        rows.append(row)
    old[:] = groups
    return rows


def field_of(problem: LineProblem, layout: Layout, filled: EditForm) -> str:
    """The form field a definition problem's path points at ("" for the form as a whole)."""
    items, rows = filled.items, filled.rows
    new = {key for key, _ in layout.new_rows}
    if problem.code == "campaign.error.removed_with_reports":
        return f"deliverable__{problem.params.get('key', '')}"
    match problem.loc:
        case ("campaign", "reminders", "offsets_days", *_):
            return "remind_before"
        case ("campaign", "reminders", "quiet_hours", edge, *_):
            return f"quiet_{edge}"
        case ("campaign", "reminders", "days_off", *_):
            return "days_off"
        case ("campaign", "reminders", name, *_) if name in NUMBERS:
            return str(name)
        case ("campaign", "digest", part, *_):
            return f"digest_{part}"
        case ("campaign", "reporting_groups", int(index), *_) if index < len(rows):
            return group_label_name(rows[index])
        case ("campaign", "reporting_groups", *_):
            return "groups"
        case ("campaign", name, *_) if name in (*TEXT_FIELDS, "start_date", "end_date"):
            return str(name)
        case ("campaign", "scope" | "timezone" as name, *_):
            return str(name)
        case ("deliverables", int(index), "deadlines", str(level)) if index < len(items):
            return due_name(items[index], level)
        case ("deliverables", int(index), "name_vi" | "name_en" as part, *_) if (
            index < len(items) and items[index] in new
        ):
            return f"{part.removesuffix('_vi')}__{items[index]}"
        case ("deliverables", int(index), *_) if index < len(items):
            return f"deliverable__{items[index]}"
    return ""


def take_problems(filled: EditForm, problems: list[LineProblem], layout: Layout, lang: str) -> None:
    """Note the problems `validate_definition` or `load_campaign` found beside their fields."""
    for problem in problems:
        name = field_of(problem, layout, filled)
        label = label_of(name, layout, lang) if name else t("web.campaign_edit.whole", lang)
        filled.refuse(name, label, problem.message(lang))
