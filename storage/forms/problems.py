"""What is wrong with a form's declaration (unknown keys, bad rules), each as one problem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from storage.forms.model import MEASURE_TYPES, FieldType, Form, Rule
from storage.i18n import t
from storage.models import MEASURES

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
