"""The flow of questions (conditions, next field, what is missing), answers in JSON columns and
measures, and answers as shown (summary, quick answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from storage.forms.model import FieldType, Form, FormField
from storage.i18n import t
from storage.i18n.formatting import date_text, number

# --- the flow of questions ----------------------------------------------------------------------


def condition_holds(item: FormField, answers: Mapping[str, Any]) -> bool:
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
    return [item for item in form.fields if condition_holds(item, answers)]


def fields_that_may_be_asked(form: Form, answers: Mapping[str, Any]) -> list[FormField]:
    """The fields that apply or may still apply (a `when` over an unanswered field), in order:
    what "question n of N" counts, so N never grows while the form is filled in."""
    return [
        item
        for item in form.fields
        if item.when is None or item.when.field not in answers or condition_holds(item, answers)
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
        return number(value, lang)
    if field.type == FieldType.DATE and isinstance(value, date):
        return date_text(value, lang)
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
