"""Cross-field rules (attended <= members, dates inside the campaign) and the one-sentence
messages for a rejected answer or a broken rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from typing import Any

from storage.answers import fold
from storage.forms.flow import answers_from_json, fields_to_ask
from storage.forms.model import Form, FormField
from storage.forms.parse import Invalid
from storage.i18n import t
from storage.i18n.formatting import value_text

# --- messages ----------------------------------------------------------------------------------


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
    params: dict[str, Any] = {n: value_text(v, lang) for n, v in invalid.params.items()}
    params["label"] = field.label(lang)
    params["example"] = example_number(field)
    params["options"] = "; ".join(
        f"{number}. {choice.label(lang)}" for number, choice in enumerate(field.choices, start=1)
    )
    text = t(invalid.code, lang, **params)
    if not invalid.heard:
        return text
    if invalid.understood is not None:
        value = value_text(invalid.understood, lang)
        if fold(str(value)) != fold(invalid.heard):
            return f"{t('form.error.heard_as', lang, input=invalid.heard, value=value)} {text}"
    return f"{t('form.error.heard', lang, input=invalid.heard)} {text}"


@dataclass(frozen=True)
class RuleViolation:
    code: str  # catalog key, e.g. "form.rule.lte"
    fields: tuple[str, ...]
    params: dict[str, Any] = dc_field(default_factory=dict)


def violation_message(form: Form, violation: RuleViolation, lang: str = "vi") -> str:
    """One sentence in `lang`; field labels are filled in as {left}/{right}/{label} ({left} and
    {label} open the sentence; {right} stands inside it, so it starts in lower case)."""
    params = {name: value_text(value, lang) for name, value in violation.params.items()}
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
