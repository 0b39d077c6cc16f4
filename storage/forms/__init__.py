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
    Suggestion as Suggestion,
)
from storage.forms.flow import (
    answers_from_json as answers_from_json,
)
from storage.forms.flow import (
    answers_to_json as answers_to_json,
)
from storage.forms.flow import (
    defaults_for as defaults_for,
)
from storage.forms.flow import (
    fields_that_may_be_asked as fields_that_may_be_asked,
)
from storage.forms.flow import (
    fields_to_ask as fields_to_ask,
)
from storage.forms.flow import (
    format_answer as format_answer,
)
from storage.forms.flow import (
    measures_of as measures_of,
)
from storage.forms.flow import (
    missing_fields as missing_fields,
)
from storage.forms.flow import (
    next_field as next_field,
)
from storage.forms.flow import (
    prune_answers as prune_answers,
)
from storage.forms.flow import (
    suggestions as suggestions,
)
from storage.forms.model import (
    DEFAULT_SOURCES as DEFAULT_SOURCES,
)
from storage.forms.model import (
    INT_CEILING as INT_CEILING,
)
from storage.forms.model import (
    MEASURE_TYPES as MEASURE_TYPES,
)
from storage.forms.model import (
    Choice as Choice,
)
from storage.forms.model import (
    FieldType as FieldType,
)
from storage.forms.model import (
    Form as Form,
)
from storage.forms.model import (
    FormField as FormField,
)
from storage.forms.model import (
    Rule as Rule,
)
from storage.forms.model import (
    When as When,
)
from storage.forms.parse import (
    DAY_BEFORE_WORDS as DAY_BEFORE_WORDS,
)
from storage.forms.parse import (
    NO_WORDS as NO_WORDS,
)
from storage.forms.parse import (
    SKIP_WORDS as SKIP_WORDS,
)
from storage.forms.parse import (
    TODAY_WORDS as TODAY_WORDS,
)
from storage.forms.parse import (
    YES_WORDS as YES_WORDS,
)
from storage.forms.parse import (
    YESTERDAY_WORDS as YESTERDAY_WORDS,
)
from storage.forms.parse import (
    Invalid as Invalid,
)
from storage.forms.parse import (
    Parsed as Parsed,
)
from storage.forms.parse import (
    ParseResult as ParseResult,
)
from storage.forms.parse import (
    parse_answer as parse_answer,
)
from storage.forms.problems import (
    Problem as Problem,
)
from storage.forms.problems import (
    form_problems as form_problems,
)
from storage.forms.rules import (
    EXAMPLE_NUMBERS as EXAMPLE_NUMBERS,
)
from storage.forms.rules import (
    RuleViolation as RuleViolation,
)
from storage.forms.rules import (
    check_rules as check_rules,
)
from storage.forms.rules import (
    error_message as error_message,
)
from storage.forms.rules import (
    example_number as example_number,
)
from storage.forms.rules import (
    mid_sentence as mid_sentence,
)
from storage.forms.rules import (
    violation_message as violation_message,
)
