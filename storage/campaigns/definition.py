"""A campaign's declaration: the models, the line-numbered problems, parsing a campaign file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from storage.campaigns.yaml_lines import (
    YAML_MAX_DEPTH,
    YAML_MAX_NODES,
    Loader,
    TooMuch,
    check_limits,
    line_map,
)
from storage.forms import Form, FormField, Rule, form_problems
from storage.i18n import t
from storage.i18n.formatting import date_text
from storage.reminders.rules import in_quiet_hours
from storage.text_clean import clean

# The years a campaign's dates may fall in: a year typed wrong (0001, 9999) is refused, not
# stored (31/12/9999 has no end of day: every figure of the campaign would fail on it).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_STRICT = ConfigDict(extra="forbid")


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_TWICE_A_WEEK: tuple[Weekday, ...] = ("monday", "thursday")


class QuietHours(BaseModel):
    model_config = _STRICT

    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(7, 0)


class Reminders(BaseModel):
    """Rules for the reminder scheduler (stored here, applied by the scheduler)."""

    model_config = _STRICT

    offsets_days: list[int] = Field(default_factory=lambda: [-3, -1, 0])
    overdue_every_days: int = Field(default=2, ge=1, le=30)
    overdue_cap: int = Field(default=5, ge=0, le=100)
    send_hour: int = Field(default=8, ge=0, le=23)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    escalation_grace_days: int = Field(default=3, ge=0, le=90)
    escalation_up_days: int = Field(default=7, ge=1, le=90)
    # No reminder or escalation on these days (besides weekends and public holidays), unless
    # a deadline falls on the day itself.
    days_off: list[date] = Field(default_factory=list, max_length=366)
    # Escalations to a supervisor go out as one list on these weekdays only (at most twice a
    # week by default).
    escalation_weekdays: list[Weekday] = Field(
        default_factory=lambda: list(_TWICE_A_WEEK), min_length=1, max_length=7
    )
    reminders_per_week: int = Field(default=3, ge=1, le=7)
    escalations_per_week: int = Field(default=2, ge=1, le=7)


class Digest(BaseModel):
    model_config = _STRICT

    weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    time: dt.time = dt.time(7, 30)


class ReportingGroupDecl(BaseModel):
    """A reporting group: levels whose figures are pooled and shown together by default."""

    model_config = _STRICT

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label_vi: str = Field(min_length=1, max_length=120)
    label_en: str = Field(min_length=1, max_length=120)
    levels: list[str] = Field(min_length=1)


class CampaignInfo(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=255)
    reference: str = Field(min_length=1, max_length=64)
    resolution: str = Field(min_length=1, max_length=255)
    start_date: date
    end_date: date | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    scope: str | None = None
    min_session_halfdays: int = Field(default=1, ge=1, le=100)
    essay_rate_threshold: float = Field(default=0.9, ge=0, le=1)
    reminders: Reminders = Field(default_factory=Reminders)
    digest: Digest = Field(default_factory=Digest)
    reporting_groups: list[ReportingGroupDecl] = Field(default_factory=list)
    # The level above approves or returns each report version (storage.review); off: every
    # confirmed version counts, as without review.
    review_required: bool = False

    @field_validator("name", "reference", "resolution", mode="before")
    @classmethod
    def _cleaned(cls, value: Any) -> Any:
        # The one cleaner of text entering the database, for YAML and the web form alike (a NUL
        # is refused: BadText is a ValueError, reported as an invalid value of the field).
        return clean(value).strip() if isinstance(value, str) else value


class DeliverableDecl(BaseModel):
    model_config = _STRICT

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name_vi: str = Field(min_length=1, max_length=255)
    name_en: str = Field(min_length=1, max_length=255)
    # Its sheet's title in the paper-report template (Excel: 31 characters at most).
    sheet_vi: str | None = Field(default=None, min_length=1, max_length=31)
    sheet_en: str | None = Field(default=None, min_length=1, max_length=31)
    deadlines: dict[str, date] = Field(min_length=1)
    fields: list[FormField] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)

    def form(self) -> Form:
        return Form(fields=tuple(self.fields), rules=tuple(self.rules))


class CampaignDefinition(BaseModel):
    model_config = _STRICT

    campaign: CampaignInfo
    deliverables: list[DeliverableDecl] = Field(min_length=1)

    # YAML line of each path, when parsed from text (for errors found later, in the database).
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        loc = tuple(loc)
        while loc:
            if loc in self._lines:
                return self._lines[loc]
            loc = loc[:-1]
        return None


# --- errors --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineProblem:
    line: int | None
    loc: tuple[str | int, ...]
    code: str  # catalog key
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def path(self) -> str:
        return format_loc(self.loc)

    def message(self, lang: str = "vi") -> str:
        """What is wrong, without the line or path (a form shows it beside its field)."""
        params = {
            k: date_text(v, lang) if isinstance(v, date) else v for k, v in self.params.items()
        }
        return t(self.code, lang, **params)

    def render(self, lang: str = "vi") -> str:
        message = self.message(lang)
        if self.line is not None and self.loc:
            return t(
                "campaign.error.at_line", lang, line=self.line, path=self.path, message=message
            )
        if self.line is not None:
            return t("campaign.error.at_line_only", lang, line=self.line, message=message)
        if self.loc:
            return t("campaign.error.at_path", lang, path=self.path, message=message)
        return message


class DefinitionError(Exception):
    """The campaign file is wrong; `problems` lists every mistake found, in file order."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path))
        super().__init__("; ".join(problem.render("en") for problem in self.problems))

    def messages(self, lang: str = "vi") -> list[str]:
        return [problem.render(lang) for problem in self.problems]


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_definition(text: str) -> CampaignDefinition:
    """Parse and validate a campaign file; raises DefinitionError naming lines and fields."""
    try:
        loader = Loader(text)  # reads the start at once: a control character raises here
    except yaml.YAMLError as exc:
        raise DefinitionError(
            [LineProblem(None, (), "campaign.error.not_yaml", {"detail": str(exc)})]
        ) from None
    try:
        node = loader.get_single_node()
        if node is not None:
            check_limits(node)
        data = loader.construct_document(node) if node is not None else None
    except TooMuch as exc:
        limit = YAML_MAX_DEPTH if exc.code.endswith("deep") else YAML_MAX_NODES
        limits = {"max": f"{limit:,}".replace(",", ".")}  # Vietnamese thousands
        raise DefinitionError([LineProblem(exc.line, (), exc.code, limits)]) from None
    except RecursionError:  # nesting too deep for the YAML parser itself
        raise DefinitionError(
            [LineProblem(None, (), "campaign.error.yaml_too_deep", {"max": YAML_MAX_DEPTH})]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = exc.problem or str(exc)
        raise DefinitionError(
            [LineProblem(line, (), "campaign.error.not_yaml", {"detail": detail})]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(
            [LineProblem(None, (), "campaign.error.not_yaml", {"detail": str(exc)})]
        ) from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        raise DefinitionError([LineProblem(1, (), "campaign.error.not_a_mapping", {})])
    lines = line_map(node)
    return validate_definition(data, lines=lines)


def validate_definition(
    data: Any, *, lines: dict[tuple[str | int, ...], int] | None = None
) -> CampaignDefinition:
    """The definition from plain data (a parsed file, a web form), checked as a campaign file is;
    raises DefinitionError. `lines`: the YAML line of each path, when there is a file."""
    known = lines or {}

    def line_of(loc: tuple[str | int, ...]) -> int | None:
        while loc:
            if loc in known:
                return known[loc]
            loc = loc[:-1]
        return known.get(())

    try:
        definition = CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(error, line_of) for error in exc.errors()]
        raise DefinitionError(problems) from None
    definition._lines = dict(known)
    problems = [
        LineProblem(line_of(loc), loc, code, params)
        for loc, code, params in definition_problems(definition)
    ]
    if problems:
        raise DefinitionError(problems)
    return definition


_PYDANTIC_CODES = {
    "missing": "campaign.error.missing",
    "extra_forbidden": "campaign.error.unknown_key",
    "int_parsing": "campaign.error.not_int",
    "int_type": "campaign.error.not_int",
    "int_from_float": "campaign.error.not_int",
    "float_parsing": "campaign.error.not_float",
    "float_type": "campaign.error.not_float",
    "bool_parsing": "campaign.error.not_bool",
    "bool_type": "campaign.error.not_bool",
    "date_parsing": "campaign.error.bad_date",
    "date_type": "campaign.error.bad_date",
    "date_from_datetime_parsing": "campaign.error.bad_date",
    "date_from_datetime_inexact": "campaign.error.bad_date",
    "time_parsing": "campaign.error.bad_time",
    "time_type": "campaign.error.bad_time",
    "string_type": "campaign.error.not_text",
    "string_too_short": "campaign.error.empty",
    "string_too_long": "campaign.error.text_too_long",
    "string_pattern_mismatch": "campaign.error.bad_key",
    "greater_than_equal": "campaign.error.ge",
    "less_than_equal": "campaign.error.le",
    "too_short": "campaign.error.empty_list",
    "list_type": "campaign.error.not_list",
    "tuple_type": "campaign.error.not_list",
    "dict_type": "campaign.error.not_mapping",
    "model_type": "campaign.error.not_mapping",
    "model_attributes_type": "campaign.error.not_mapping",
    "enum": "campaign.error.not_allowed",
    "literal_error": "campaign.error.not_allowed",
    "too_long": "campaign.error.list_too_long",
}


def _from_pydantic(error: Any, line_of: Any) -> LineProblem:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    code = _PYDANTIC_CODES.get(kind, "campaign.error.invalid")
    if kind in ("enum", "literal_error") and loc and loc[-1] == "type":
        code = "campaign.error.field_type"
    expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
    params = {
        "value": value if isinstance(value, str | int | float) else "",
        "expected": expected,
        "limit": ctx.get("ge", ctx.get("le", ctx.get("max_length", ctx.get("min_length", "")))),
        "detail": error.get("msg", ""),
    }
    return LineProblem(line_of(loc), loc, code, params)


def _dates(definition: CampaignDefinition) -> list[tuple[tuple[str | int, ...], date]]:
    """Every date the definition holds, with its path."""
    info = definition.campaign
    found: list[tuple[tuple[str | int, ...], date]] = [
        (("campaign", "start_date"), info.start_date)
    ]
    if info.end_date is not None:
        found.append((("campaign", "end_date"), info.end_date))
    days_off = ("campaign", "reminders", "days_off")
    found += [((*days_off, index), day) for index, day in enumerate(info.reminders.days_off)]
    for index, item in enumerate(definition.deliverables):
        found += [(("deliverables", index, "deadlines", lv), d) for lv, d in item.deadlines.items()]
    return found


def definition_problems(
    definition: CampaignDefinition,
) -> list[tuple[tuple[str | int, ...], str, dict[str, Any]]]:
    """What the schema cannot see: dates out of order, duplicate keys, form mistakes ..."""
    problems: list[tuple[tuple[str | int, ...], str, dict[str, Any]]] = []
    info = definition.campaign
    try:
        ZoneInfo(info.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            (("campaign", "timezone"), "campaign.error.unknown_timezone", {"value": info.timezone})
        )
    for where_day, day in _dates(definition):
        if not FIRST_DAY <= day <= LAST_DAY:
            params = {"date": day, "first": str(FIRST_DAY.year), "last": str(LAST_DAY.year)}
            problems.append((where_day, "campaign.error.year_out_of_range", params))
    if info.end_date is not None and info.end_date < info.start_date:
        problems.append(
            (
                ("campaign", "end_date"),
                "campaign.error.end_before_start",
                {"end": info.end_date, "start": info.start_date},
            )
        )
    for index, day in enumerate(info.reminders.days_off):  # only days inside the campaign
        where_off: tuple[str | int, ...] = ("campaign", "reminders", "days_off", index)
        if day < info.start_date:
            params = {"date": day, "start": info.start_date}
            problems.append((where_off, "campaign.error.day_off_before_start", params))
        elif info.end_date is not None and day > info.end_date:
            params = {"date": day, "end": info.end_date}
            problems.append((where_off, "campaign.error.day_off_after_end", params))
    quiet = info.reminders.quiet_hours
    if in_quiet_hours(dt.time(info.reminders.send_hour), quiet.start, quiet.end):
        problems.append(
            (
                ("campaign", "reminders", "send_hour"),
                "campaign.error.send_hour_quiet",
                {
                    "hour": info.reminders.send_hour,
                    "start": quiet.start.strftime("%H:%M"),
                    "end": quiet.end.strftime("%H:%M"),
                },
            )
        )
    grouped: dict[str, str] = {}
    for index, group in enumerate(info.reporting_groups):
        for level in group.levels:
            if level in grouped:
                problems.append(
                    (
                        ("campaign", "reporting_groups", index, "levels"),
                        "campaign.error.group_overlap",
                        {"level": level, "group": grouped[level]},
                    )
                )
            grouped.setdefault(level, group.label_vi)
    seen: set[str] = set()
    for index, item in enumerate(definition.deliverables):
        where: tuple[str | int, ...] = ("deliverables", index)
        if item.key in seen:
            problems.append(
                ((*where, "key"), "campaign.error.duplicate_deliverable", {"key": item.key})
            )
        seen.add(item.key)
        for level, due in item.deadlines.items():
            if due < info.start_date:
                problems.append(
                    (
                        (*where, "deadlines", level),
                        "campaign.error.deadline_before_start",
                        {"date": due, "start": info.start_date},
                    )
                )
            if info.end_date is not None and due > info.end_date:
                problems.append(
                    (
                        (*where, "deadlines", level),
                        "campaign.error.deadline_after_end",
                        {"date": due, "end": info.end_date},
                    )
                )
        for problem in form_problems(item.form()):
            problems.append(((*where, *problem.loc), problem.code, problem.params))
    return problems
