"""Report forms: typed fields, conditions, cross-field rules, and the parsing of typed answers.

A `Form` is what a deliverable asks (stored as JSON in `Deliverable.form`, declared in the
campaign YAML, see `storage.campaigns`). Both the chat conversation and the paper-report import
go through the same functions here:

    form = Form.model_validate(deliverable.form)          # or campaigns.form_of(deliverable)
    field = next_field(form, answers)                      # None when everything is answered
    result = parse_answer(field, text, today=today, lang=lang)
    if isinstance(result, Invalid):
        reply(error_message(field, result, lang))          # one Vietnamese sentence
    else:
        answers[field.key] = result.value                  # None = skipped optional field
    ...
    violations = check_rules(form, answers, campaign_start=..., campaign_end=..., today=today)
    for violation in violations: reply(violation_message(form, violation, lang))
    columns = measures_of(form, answers)                   # typed ReportVersion columns

Answer values are Python values (int, bool, date, str, None). `answers_to_json` and
`answers_from_json` convert them for JSON columns (`Draft.answers`, `ReportVersion.answers`).
Everything here is pure: no database, no clock (`today` is a parameter), never raises on input
a person typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storage.answers import clean_text, fold, format_date, format_int
from storage.i18n import t
from storage.models import MEASURES

# Largest whole number a measure column can hold (32-bit INTEGER on PostgreSQL).
INT_CEILING = 2_147_483_647
# Typed answers longer than this (for anything but text) are not an answer.
_MAX_TYPED = 64
# Anything longer is refused before any work is done on it.
_MAX_INPUT = 10_000


class FieldType(StrEnum):
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    TEXT = "text"
    CHOICE = "choice"


# The type each ReportVersion measure column holds.
MEASURE_TYPES: dict[str, FieldType] = {
    "session_date": FieldType.DATE,
    "duration_halfdays": FieldType.INT,
    "members": FieldType.INT,
    "attended": FieldType.INT,
    "nonmembers_attended": FieldType.INT,
    "essays": FieldType.INT,
    "action_program": FieldType.BOOL,
    "action_program_date": FieldType.DATE,
    "heads_with_plan": FieldType.INT,
    "heads": FieldType.INT,
}
assert set(MEASURE_TYPES) == set(MEASURES), "MEASURE_TYPES must cover storage.models.MEASURES"

# Where a default may come from (attribute of the unit being reported on).
DEFAULT_SOURCES = ("unit.members",)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Choice(BaseModel):
    model_config = _FROZEN

    value: str = Field(min_length=1, max_length=64)
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_vi


class When(BaseModel):
    """Ask the field only if an earlier field's answer equals `equals`."""

    model_config = _FROZEN

    field: str
    equals: bool | int | str


class FormField(BaseModel):
    model_config = _FROZEN

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    type: FieldType
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    prompt_vi: str = Field(min_length=1)
    prompt_en: str = Field(min_length=1)
    # Said after the prompt when a new report is filled in, not in /capnhat ("you can update it
    # later with /capnhat" would be out of place there).
    hint_vi: str | None = Field(default=None, min_length=1)
    hint_en: str | None = Field(default=None, min_length=1)
    required: bool = True
    min: int | None = None
    max: int | None = None
    max_length: int = Field(default=200, ge=1, le=4000)
    choices: tuple[Choice, ...] = ()
    default_from: Literal["unit.members"] | None = None
    measure: str | None = None
    when: When | None = None

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_vi

    def prompt(self, lang: str, *, hint: bool = True) -> str:
        """The question; with its hint (if any) unless `hint=False`."""
        text = self.prompt_en if lang == "en" else self.prompt_vi
        extra = (self.hint_en or self.hint_vi) if lang == "en" else self.hint_vi
        return f"{text} {extra}" if hint and extra else text


class Rule(BaseModel):
    """One cross-field rule; exactly one kind is set.

    - `lte: [a, b]`: answer a <= answer b (skipped while either is missing).
    - `date_in_campaign: a`: campaign start <= answer a <= campaign end (or today if no end).
    `message` optionally names another catalog key (same placeholders as the default one)."""

    model_config = _FROZEN

    lte: tuple[str, str] | None = None
    date_in_campaign: str | None = None
    message: str | None = None

    @property
    def kind(self) -> str:
        return "lte" if self.lte is not None else "date_in_campaign"

    @property
    def fields(self) -> tuple[str, ...]:
        if self.lte is not None:
            return self.lte
        return (self.date_in_campaign,) if self.date_in_campaign else ()

    @property
    def message_key(self) -> str:
        return self.message or f"form.rule.{self.kind}"


class Form(BaseModel):
    model_config = _FROZEN

    fields: tuple[FormField, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()

    def field(self, key: str) -> FormField:
        for item in self.fields:
            if item.key == key:
                return item
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [item.key for item in self.fields]


# --- declaration problems -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something wrong in a form declaration. `loc` is relative to the form
    (e.g. ("fields", 2, "measure")); `code` is a catalog key."""

    loc: tuple[str | int, ...]
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)


def form_problems(form: Form) -> list[Problem]:
    """Checks a structurally valid form for what pydantic cannot see: duplicate keys, unknown
    measures or measures of the wrong type, rules and conditions naming missing fields..."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    measures: dict[str, int] = {}
    for index, item in enumerate(form.fields):
        if item.key in seen:
            problems.append(
                Problem(("fields", index, "key"), "form.decl.duplicate_key", {"key": item.key})
            )
        seen.setdefault(item.key, index)
        if item.measure is not None:
            expected = MEASURE_TYPES.get(item.measure)
            if expected is None:
                problems.append(
                    Problem(
                        ("fields", index, "measure"),
                        "form.decl.unknown_measure",
                        {"measure": item.measure, "allowed": ", ".join(MEASURES)},
                    )
                )
            elif expected != item.type:
                problems.append(
                    Problem(
                        ("fields", index, "measure"),
                        "form.decl.measure_type",
                        {"measure": item.measure, "type": expected.value},
                    )
                )
            elif item.measure in measures:
                problems.append(
                    Problem(
                        ("fields", index, "measure"),
                        "form.decl.duplicate_measure",
                        {"measure": item.measure},
                    )
                )
            measures.setdefault(item.measure, index)
        if item.type == FieldType.CHOICE:
            values = [choice.value for choice in item.choices]
            if not values:
                problems.append(Problem(("fields", index, "choices"), "form.decl.no_choices", {}))
            elif len(set(values)) != len(values):
                problems.append(
                    Problem(("fields", index, "choices"), "form.decl.duplicate_choice", {})
                )
        if item.min is not None and item.max is not None and item.min > item.max:
            problems.append(
                Problem(
                    ("fields", index, "max"),
                    "form.decl.min_over_max",
                    {"min": item.min, "max": item.max},
                )
            )
        if item.default_from is not None and item.type != FieldType.INT:
            problems.append(
                Problem(("fields", index, "default_from"), "form.decl.default_type", {})
            )
        if item.when is not None:
            source = seen.get(item.when.field)
            if source is None or source >= index:
                problems.append(
                    Problem(
                        ("fields", index, "when", "field"),
                        "form.decl.when_field",
                        {"key": item.when.field},
                    )
                )
    for index, rule in enumerate(form.rules):
        problems.extend(_rule_problems(form, index, rule, seen))
    return problems


def _rule_problems(form: Form, index: int, rule: Rule, keys: Mapping[str, int]) -> list[Problem]:
    if (rule.lte is None) == (rule.date_in_campaign is None):
        return [Problem(("rules", index), "form.decl.rule_kind", {})]
    where = ("rules", index, rule.kind)
    problems: list[Problem] = []
    for position, key in enumerate(rule.fields):
        loc = (*where, position) if rule.lte is not None else where
        if key not in keys:
            problems.append(Problem(loc, "form.decl.rule_field", {"key": key}))
            continue
        wanted = (FieldType.INT,) if rule.lte is not None else (FieldType.DATE,)
        if form.fields[keys[key]].type not in wanted:
            problems.append(
                Problem(loc, "form.decl.rule_type", {"key": key, "type": wanted[0].value})
            )
    if rule.message is not None:
        try:
            t(rule.message, "vi")
        except KeyError:
            problems.append(
                Problem((*where[:2], "message"), "form.decl.rule_message", {"key": rule.message})
            )
    return problems


# --- parsing typed answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    value: Any  # int | bool | date | str | None (None: an optional field skipped)


@dataclass(frozen=True)
class Invalid:
    code: str  # catalog key, e.g. "form.error.not_a_number"
    params: dict[str, Any] = dc_field(default_factory=dict)


ParseResult = Parsed | Invalid

SKIP_WORDS = frozenset({"bo qua", "skip", "-", "--", "—", "khong co thong tin", "bq"})
YES_WORDS = frozenset(
    {
        "co",
        "c",
        "roi",
        "da",
        "yes",
        "y",
        "1",
        "co roi",
        "da co",
        "dung",
        "ok",
        "da xay dung",
        "x",
        "v",
    }
)
NO_WORDS = frozenset(
    {"khong", "k", "ko", "kg", "kh", "chua", "no", "n", "0", "chua co", "khong co"}
)
TODAY_WORDS = frozenset({"hom nay", "nay", "today", "hnay", "h nay"})
YESTERDAY_WORDS = frozenset({"hom qua", "qua", "yesterday", "hqua"})
DAY_BEFORE_WORDS = frozenset({"hom kia"})

# Words that may follow a count: "25 đồng chí", "25 đ/c", "25 người" (folded, no diacritics).
_COUNT_UNITS = (
    r"dong chi|d/c|dc|d\.c|nguoi|dang vien|dv|d/v|can bo|cb|buoi|buoi hoc|bai|bai thu hoach"
    r"|ban|thanh vien|dai bieu|nguoi dung dau|dong chi dang vien|lan"
)
_INT = re.compile(rf"^(\+?-?)\s*(\d{{1,3}}(?:\.\d{{3}})+|\d+)\s*(?:{_COUNT_UNITS})?\s*[.!]?$")
_DECIMAL = re.compile(r"^-?\d+[,.]\d+")
_DIGITS = re.compile(r"\d+")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(?:ngay\s*)?(\d{1,2})\s*[/\-.]\s*(\d{1,2})(?:\s*[/\-.]\s*(\d{4}|\d{2}))?$")
_WORDS_DATE = re.compile(
    r"^(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})(?:\s*(?:nam\s*)?(\d{4}|\d{2}))?$"
)


def parse_answer(field: FormField, text: str, *, today: date, lang: str = "vi") -> ParseResult:
    """Parse what a person typed for `field`. Never raises: returns `Parsed(value)` or
    `Invalid(code, params)` (render it with `error_message`). `lang` is accepted for symmetry;
    both languages' words are understood whatever it is."""
    if not isinstance(text, str):
        return Invalid("form.error.required")
    if len(text) > _MAX_INPUT:
        code = (
            "form.error.too_long" if field.type == FieldType.TEXT else _NOT_UNDERSTOOD[field.type]
        )
        return Invalid(code, {"max": field.max_length})
    folded = fold(text)
    if not folded or folded in SKIP_WORDS:
        return Invalid("form.error.required") if field.required else Parsed(None)
    if field.type == FieldType.TEXT:
        return _parse_text(field, text)
    if len(folded) > _MAX_TYPED:
        return Invalid(_NOT_UNDERSTOOD[field.type])
    if field.type == FieldType.INT:
        return _parse_int(field, folded)
    if field.type == FieldType.BOOL:
        return _parse_bool(folded)
    if field.type == FieldType.DATE:
        return _parse_date(folded, today)
    return _parse_choice(field, folded)


_NOT_UNDERSTOOD: dict[FieldType, str] = {
    FieldType.INT: "form.error.not_a_number",
    FieldType.BOOL: "form.error.not_yes_no",
    FieldType.DATE: "form.error.not_a_date",
    FieldType.CHOICE: "form.error.not_a_choice",
}


def _parse_text(field: FormField, text: str) -> ParseResult:
    cleaned = clean_text(text)
    if not cleaned:
        return Invalid("form.error.required") if field.required else Parsed(None)
    if len(cleaned) > field.max_length:
        return Invalid("form.error.too_long", {"max": field.max_length})
    return Parsed(cleaned)


def _parse_int(field: FormField, folded: str) -> ParseResult:
    match = _INT.match(folded)
    if match is None:
        if _DECIMAL.match(folded):
            return Invalid("form.error.not_whole")
        if len(_DIGITS.findall(folded)) > 1:
            return Invalid("form.error.two_numbers")
        return Invalid("form.error.not_a_number")
    sign, digits = match.group(1), match.group(2).replace(".", "")
    if "-" in sign:
        return Invalid("form.error.negative")
    if len(digits) > 12:
        return Invalid(
            "form.error.too_large", {"max": field.max if field.max is not None else INT_CEILING}
        )
    value = int(digits)
    low = field.min if field.min is not None else 0
    high = min(field.max, INT_CEILING) if field.max is not None else INT_CEILING
    if value < low:
        return Invalid("form.error.too_small", {"min": low})
    if value > high:
        return Invalid("form.error.too_large", {"max": high})
    return Parsed(value)


def _parse_bool(folded: str) -> ParseResult:
    word = folded.rstrip(".!")
    if word in YES_WORDS:
        return Parsed(True)
    if word in NO_WORDS:
        return Parsed(False)
    return Invalid("form.error.not_yes_no")


def _parse_date(folded: str, today: date) -> ParseResult:
    word = folded.rstrip(".!").strip()
    if word in TODAY_WORDS:
        return Parsed(today)
    if word in YESTERDAY_WORDS:
        return Parsed(today - timedelta(days=1))
    if word in DAY_BEFORE_WORDS:
        return Parsed(today - timedelta(days=2))
    match = _ISO.match(word)
    if match is not None:
        year, month, day = (int(part) for part in match.groups())
        return _checked_date(year, month, day, today, text=word)
    match = _DMY.match(word) or _WORDS_DATE.match(word)
    if match is None:
        return Invalid("form.error.not_a_date")
    day, month = int(match.group(1)), int(match.group(2))
    text = f"{day}/{month}"
    if match.group(3) is not None:
        year = int(match.group(3))
        if len(match.group(3)) == 2:
            year += 2000
        return _checked_date(year, month, day, today, text=f"{text}/{match.group(3)}")
    # No year: this year, or last year if that would be in the future.
    for year in (today.year, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return Parsed(candidate)
    try:
        return Invalid("form.error.future_date", {"value": date(today.year, month, day)})
    except ValueError:
        return Invalid("form.error.impossible_date", {"text": text})


def _checked_date(year: int, month: int, day: int, today: date, *, text: str) -> ParseResult:
    if year < 1900:
        return Invalid("form.error.not_a_date")
    try:
        value = date(year, month, day)
    except ValueError:
        return Invalid("form.error.impossible_date", {"text": text})
    if value > today:
        return Invalid("form.error.future_date", {"value": value})
    return Parsed(value)


def _parse_choice(field: FormField, folded: str) -> ParseResult:
    word = folded.rstrip(".!").strip()
    if word.isdigit() and len(word) <= 3:
        number = int(word)
        if 1 <= number <= len(field.choices):
            return Parsed(field.choices[number - 1].value)
    for choice in field.choices:
        names = {fold(choice.value), fold(choice.label_vi), fold(choice.label_en)}
        if word in names:
            return Parsed(choice.value)
    return Invalid("form.error.not_a_choice")


# --- messages ----------------------------------------------------------------------------------


def _render_param(value: Any, lang: str) -> Any:
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no", lang)
    if isinstance(value, int):
        return format_int(value, lang)
    if isinstance(value, date):
        return format_date(value)
    return value


# Example answers for a whole number, the first one inside the field's range is shown.
EXAMPLE_NUMBERS = (25, 2)


def example_number(field: FormField) -> int:
    """A whole number the field accepts, for "for example: N" (25, else 2, else its minimum)."""
    low = field.min if field.min is not None else 0
    for value in EXAMPLE_NUMBERS:
        if value >= low and (field.max is None or value <= field.max):
            return value
    return low


def mid_sentence(label: str) -> str:
    """A label placed inside a sentence: its first letter in lower case ("Số đảng viên" ->
    "số đảng viên"), unless the label starts with an abbreviation ("MTTQ ...")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def error_message(field: FormField, invalid: Invalid, lang: str = "vi") -> str:
    """One sentence in `lang` explaining why the answer was refused (names the field)."""
    params = {name: _render_param(value, lang) for name, value in invalid.params.items()}
    params["label"] = field.label(lang)
    params["example"] = example_number(field)
    params["options"] = "; ".join(
        f"{number}. {choice.label(lang)}" for number, choice in enumerate(field.choices, start=1)
    )
    return t(invalid.code, lang, **params)


@dataclass(frozen=True)
class RuleViolation:
    code: str  # catalog key, e.g. "form.rule.lte"
    fields: tuple[str, ...]
    params: dict[str, Any] = dc_field(default_factory=dict)


def violation_message(form: Form, violation: RuleViolation, lang: str = "vi") -> str:
    """One sentence in `lang`; field labels are filled in as {left}/{right}/{label} ({left} and
    {label} open the sentence; {right} stands inside it, so it starts in lower case)."""
    params = {name: _render_param(value, lang) for name, value in violation.params.items()}
    labels = [form.field(key).label(lang) for key in violation.fields]
    if labels:
        params["label"] = labels[0]
        params["left"] = labels[0]
        params["right"] = mid_sentence(labels[-1])
    return t(violation.code, lang, **params)


def check_rules(
    form: Form,
    answers: Mapping[str, Any],
    *,
    campaign_start: date,
    campaign_end: date | None,
    today: date,
) -> list[RuleViolation]:
    """Every cross-field rule that the answers break. Rules over a missing, skipped or
    not-asked field are not checked. Accepts JSON answers too (ISO dates)."""
    answers = answers_from_json(form, answers)
    active = {item.key for item in fields_to_ask(form, answers)}
    violations: list[RuleViolation] = []
    for rule in form.rules:
        values = [answers.get(key) if key in active else None for key in rule.fields]
        if not values or any(value is None for value in values):
            continue
        if rule.lte is not None:
            left, right = values
            if isinstance(left, int) and isinstance(right, int) and left > right:
                violations.append(
                    RuleViolation(
                        rule.message_key, rule.lte, {"left_value": left, "right_value": right}
                    )
                )
        else:
            value = values[0]
            end = min(campaign_end, today) if campaign_end is not None else today
            if isinstance(value, date) and not campaign_start <= value <= end:
                violations.append(
                    RuleViolation(
                        rule.message_key,
                        rule.fields,
                        {"value": value, "start": campaign_start, "end": end},
                    )
                )
    return violations


# --- the flow of questions ----------------------------------------------------------------------


def _holds(item: FormField, answers: Mapping[str, Any]) -> bool:
    if item.when is None:
        return True
    if item.when.field not in answers:
        return False
    answer = answers[item.when.field]
    expected = item.when.equals
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    return bool(answer == expected)


def fields_to_ask(form: Form, answers: Mapping[str, Any]) -> list[FormField]:
    """The fields that apply given the answers so far, in order (a `when` over an unanswered
    field does not hold yet)."""
    return [item for item in form.fields if _holds(item, answers)]


def fields_that_may_be_asked(form: Form, answers: Mapping[str, Any]) -> list[FormField]:
    """The fields that apply or may still apply (a `when` over an unanswered field), in order:
    what "question n of N" counts, so N never grows while the form is filled in."""
    return [
        item
        for item in form.fields
        if item.when is None or item.when.field not in answers or _holds(item, answers)
    ]


def next_field(form: Form, answers: Mapping[str, Any]) -> FormField | None:
    """The first applicable field without an answer (a skipped optional field has one: None)."""
    for item in fields_to_ask(form, answers):
        if item.key not in answers:
            return item
    return None


def prune_answers(form: Form, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Drop answers to fields that no longer apply (action program changed to "no" drops its
    date) and to keys the form does not have."""
    active = {item.key for item in fields_to_ask(form, answers)}
    return {key: value for key, value in answers.items() if key in active}


def missing_fields(form: Form, answers: Mapping[str, Any]) -> list[FormField]:
    """Applicable required fields without a value (what still blocks confirming)."""
    return [
        item
        for item in fields_to_ask(form, answers)
        if item.required and answers.get(item.key) is None
    ]


def defaults_for(form: Form, unit: Any) -> dict[str, Any]:
    """Suggested answers taken from the unit (e.g. members from `unit.members`)."""
    defaults: dict[str, Any] = {}
    for item in form.fields:
        if item.default_from is None:
            continue
        value = getattr(unit, item.default_from.split(".", 1)[1], None)
        if value is not None:
            defaults[item.key] = value
    return defaults


def measures_of(form: Form, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The typed ReportVersion measure columns these answers fill (every measure of the form;
    None where unanswered, skipped or not applicable). Accepts JSON answers too."""
    typed = answers_from_json(form, answers)
    active = {item.key for item in fields_to_ask(form, typed)}
    return {
        item.measure: typed.get(item.key) if item.key in active else None
        for item in form.fields
        if item.measure is not None
    }


def answers_to_json(form: Form, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Dates as ISO strings; everything else is already JSON."""
    return {
        key: value.isoformat() if isinstance(value, date) else value
        for key, value in answers.items()
    }


def answers_from_json(form: Form, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of `answers_to_json` (ISO strings of date fields back to dates)."""
    result: dict[str, Any] = {}
    types = {item.key: item.type for item in form.fields}
    for key, value in raw.items():
        if types.get(key) == FieldType.DATE and isinstance(value, str):
            try:
                result[key] = date.fromisoformat(value)
            except ValueError:
                result[key] = None
        else:
            result[key] = value
    return result


def format_answer(field: FormField, value: Any, lang: str = "vi") -> str:
    """How an answer is shown in a summary: 28/9/2016, Có/Chưa, 1.234, the choice's label."""
    if value is None:
        return t("common.dash", lang)
    if field.type == FieldType.BOOL:
        return t("common.yes" if value else "common.no", lang)
    if field.type == FieldType.INT and isinstance(value, int):
        return format_int(value, lang)
    if field.type == FieldType.DATE and isinstance(value, date):
        return format_date(value)
    if field.type == FieldType.CHOICE:
        for choice in field.choices:
            if choice.value == value:
                return choice.label(lang)
    return str(value)


@dataclass(frozen=True)
class Suggestion:
    """A quick answer for channels with buttons: show `label`, feed `text` to parse_answer."""

    label: str
    text: str


def suggestions(field: FormField, lang: str = "vi", *, default: Any = None) -> list[Suggestion]:
    """Buttons for a question: Hôm nay/Hôm qua, Có/Chưa, the choices, the unit's default, and
    Bỏ qua for optional fields. Each `text` parses back to the intended value."""
    items: list[Suggestion] = []
    if default is not None:
        items.append(Suggestion(format_answer(field, default, lang), _as_text(field, default)))
    if field.type == FieldType.DATE:
        items.append(Suggestion(t("form.button.today", lang), "hôm nay"))
        items.append(Suggestion(t("form.button.yesterday", lang), "hôm qua"))
    elif field.type == FieldType.BOOL:
        items.append(Suggestion(t("common.yes", lang), "có"))
        items.append(Suggestion(t("common.no", lang), "không"))
    elif field.type == FieldType.CHOICE:
        items.extend(
            Suggestion(choice.label(lang), str(number))
            for number, choice in enumerate(field.choices, start=1)
        )
    if not field.required:
        items.append(Suggestion(t("form.button.skip", lang), "bỏ qua"))
    return items


def _as_text(field: FormField, value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "có" if value else "không"
    return str(value)
