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

Modules: `model` (the declaration: fields, conditions, rules), `problems` (what is wrong with a
declaration), `parse` (typed answers), `rules` (cross-field rules and the error sentences),
`flow` (which question next, stored answers, shown answers, quick answers).
"""

from __future__ import annotations

from storage.forms.flow import (
    Suggestion,
    answers_from_json,
    answers_to_json,
    defaults_for,
    fields_that_may_be_asked,
    fields_to_ask,
    format_answer,
    measures_of,
    missing_fields,
    next_field,
    prune_answers,
    suggestions,
)
from storage.forms.model import (
    DEFAULT_SOURCES,
    INT_CEILING,
    MEASURE_TYPES,
    Choice,
    FieldType,
    Form,
    FormField,
    Rule,
    When,
)
from storage.forms.parse import (
    DAY_BEFORE_WORDS,
    NO_WORDS,
    SKIP_WORDS,
    TODAY_WORDS,
    YES_WORDS,
    YESTERDAY_WORDS,
    Invalid,
    Parsed,
    ParseResult,
    parse_answer,
)
from storage.forms.problems import Problem, form_problems
from storage.forms.rules import (
    EXAMPLE_NUMBERS,
    RuleViolation,
    check_rules,
    error_message,
    example_number,
    mid_sentence,
    violation_message,
)

__all__ = [
    "DAY_BEFORE_WORDS",
    "DEFAULT_SOURCES",
    "EXAMPLE_NUMBERS",
    "INT_CEILING",
    "MEASURE_TYPES",
    "NO_WORDS",
    "SKIP_WORDS",
    "TODAY_WORDS",
    "YESTERDAY_WORDS",
    "YES_WORDS",
    "Choice",
    "FieldType",
    "Form",
    "FormField",
    "Invalid",
    "ParseResult",
    "Parsed",
    "Problem",
    "Rule",
    "RuleViolation",
    "Suggestion",
    "When",
    "answers_from_json",
    "answers_to_json",
    "check_rules",
    "defaults_for",
    "error_message",
    "example_number",
    "fields_that_may_be_asked",
    "fields_to_ask",
    "form_problems",
    "format_answer",
    "measures_of",
    "mid_sentence",
    "missing_fields",
    "next_field",
    "parse_answer",
    "prune_answers",
    "suggestions",
    "violation_message",
]
