"""Form declarations, typed-answer parsing, rules, the question flow and summaries."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.forms import (
    Form,
    FormField,
    Invalid,
    Parsed,
    answers_from_json,
    answers_to_json,
    check_rules,
    defaults_for,
    error_message,
    fields_to_ask,
    form_problems,
    format_answer,
    measures_of,
    mid_sentence,
    missing_fields,
    next_field,
    parse_answer,
    prune_answers,
    suggestions,
    violation_message,
)

TODAY = date(2016, 9, 30)


def _field(key: str, type_: str, **extra: Any) -> FormField:
    return FormField.model_validate(
        {
            "key": key,
            "type": type_,
            "label_vi": extra.pop("label_vi", f"Mục {key}"),
            "label_en": f"Item {key}",
            "prompt_vi": "?",
            "prompt_en": "?",
            **extra,
        }
    )


ATTENDED = _field("attended", "int", label_vi="Số đảng viên dự", max=100_000, measure="attended")
DURATION = _field("duration", "int", min=1, max=20, measure="duration_halfdays")
DONE = _field("done", "bool")
DAY = _field("day", "date", label_vi="Ngày tổ chức hội nghị")
NAME = _field("presenter", "text", max_length=20, required=False)
KIND = _field(
    "kind",
    "choice",
    choices=[
        {"value": "truc_tiep", "label_vi": "Trực tiếp", "label_en": "In person"},
        {"value": "truc_tuyen", "label_vi": "Trực tuyến", "label_en": "Online"},
    ],
)

FORM = Form.model_validate(
    {
        "fields": [
            {
                "key": "session_date",
                "type": "date",
                "label_vi": "Ngày hội nghị",
                "label_en": "Session date",
                "prompt_vi": "?",
                "prompt_en": "?",
                "measure": "session_date",
            },
            {
                "key": "members",
                "type": "int",
                "label_vi": "Số đảng viên",
                "label_en": "Members",
                "prompt_vi": "?",
                "prompt_en": "?",
                "measure": "members",
                "default_from": "unit.members",
            },
            {
                "key": "attended",
                "type": "int",
                "label_vi": "Số đảng viên dự",
                "label_en": "Members attending",
                "prompt_vi": "?",
                "prompt_en": "?",
                "measure": "attended",
            },
            {
                "key": "essays",
                "type": "int",
                "label_vi": "Số bài thu hoạch",
                "label_en": "Essays",
                "prompt_vi": "?",
                "prompt_en": "?",
                "measure": "essays",
            },
            {
                "key": "action_program",
                "type": "bool",
                "label_vi": "Chương trình hành động",
                "label_en": "Action program",
                "prompt_vi": "?",
                "prompt_en": "?",
                "measure": "action_program",
            },
            {
                "key": "action_program_date",
                "type": "date",
                "label_vi": "Ngày ban hành",
                "label_en": "Date",
                "prompt_vi": "?",
                "prompt_en": "?",
                "measure": "action_program_date",
                "when": {"field": "action_program", "equals": True},
            },
        ],
        "rules": [
            {"lte": ["attended", "members"]},
            {"lte": ["essays", "attended"]},
            {"date_in_campaign": "session_date"},
        ],
    }
)


def _ok(field: FormField, text: str, today: date = TODAY) -> Any:
    result = parse_answer(field, text, today=today)
    assert isinstance(result, Parsed), (text, result)
    return result.value


def _bad(field: FormField, text: str, today: date = TODAY) -> str:
    result = parse_answer(field, text, today=today)
    assert isinstance(result, Invalid), (text, result)
    return result.code


# --- numbers ---


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("25", 25),
        ("25 đồng chí", 25),
        ("25 dong chi", 25),
        ("25 đ/c", 25),
        ("25đ/c", 25),
        ("25 người", 25),
        (" 25 ", 25),
        ("1.234", 1234),
        ("１２３", 123),
        ("0", 0),
        ("25.", 25),
    ],
)
def test_whole_numbers_in_vietnamese_habits(text: str, value: int) -> None:
    assert _ok(ATTENDED, text) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("25,5", "form.error.not_whole"),
        ("1.23", "form.error.not_whole"),
        ("-3", "form.error.negative"),
        ("abc", "form.error.not_a_number"),
        ("hai mươi ba bốn", "form.error.not_a_number"),
        ("25 30", "form.error.two_numbers"),
        ("200000", "form.error.too_large"),
        ("9" * 40, "form.error.too_large"),
        ("", "form.error.required"),
        ("   ", "form.error.required"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(text: str, code: str) -> None:
    assert _bad(ATTENDED, text) == code


def test_min_and_max_are_enforced() -> None:
    assert _bad(DURATION, "0") == "form.error.too_small"
    assert _bad(DURATION, "21") == "form.error.too_large"
    assert _ok(DURATION, "2 buổi") == 2


@given(st.integers(min_value=0, max_value=100_000))
def test_whole_numbers_round_trip(n: int) -> None:
    assert parse_answer(ATTENDED, str(n), today=TODAY) == Parsed(n)


# --- yes / no ---


@pytest.mark.parametrize("text", ["có", "Có", "CO", "co", "c", "rồi", "Đã", "yes", "Y", "1", "có."])
def test_yes(text: str) -> None:
    assert _ok(DONE, text) is True


@pytest.mark.parametrize("text", ["không", "khong", "Chưa", "chua", "no", "N", "0", "KHÔNG"])
def test_no(text: str) -> None:
    assert _ok(DONE, text) is False


def test_neither_yes_nor_no() -> None:
    assert _bad(DONE, "có lẽ") == "form.error.not_yes_no"
    assert _bad(DONE, "2") == "form.error.not_yes_no"


# --- dates ---


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("28/9", date(2016, 9, 28)),
        ("28-9", date(2016, 9, 28)),
        ("28.9", date(2016, 9, 28)),
        ("28/9/2016", date(2016, 9, 28)),
        ("28-9-2016", date(2016, 9, 28)),
        ("28/09/16", date(2016, 9, 28)),
        ("2016-09-28", date(2016, 9, 28)),
        ("ngày 28 tháng 9 năm 2016", date(2016, 9, 28)),
        ("hôm nay", TODAY),
        ("Hom nay", TODAY),
        ("hôm qua", date(2016, 9, 29)),
        ("hom qua", date(2016, 9, 29)),
        ("hôm kia", date(2016, 9, 28)),
        ("２８／９", date(2016, 9, 28)),
    ],
)
def test_dates_in_vietnamese_habits(text: str, value: date) -> None:
    assert _ok(DAY, text) == value


def test_a_date_without_year_is_never_in_the_future() -> None:
    # 15/12 typed on 10/1/2017 means last December.
    assert _ok(DAY, "15/12", today=date(2017, 1, 10)) == date(2016, 12, 15)
    assert _ok(DAY, "10/1", today=date(2017, 1, 10)) == date(2017, 1, 10)
    # 29/2 in a year without it: the last 29 February that has passed.
    assert _ok(DAY, "29/2", today=date(2017, 3, 1)) == date(2016, 2, 29)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("31/2", "form.error.impossible_date"),
        ("0/5", "form.error.impossible_date"),
        ("32/1", "form.error.impossible_date"),
        ("28/13/2016", "form.error.impossible_date"),
        ("1/10/2016", "form.error.future_date"),
        ("2017-01-01", "form.error.future_date"),
        ("ngày mai", "form.error.not_a_date"),
        ("28/9/2016/1", "form.error.not_a_date"),
    ],
)
def test_bad_dates(text: str, code: str) -> None:
    assert _bad(DAY, text) == code


def test_date_messages_are_one_clear_sentence() -> None:
    invalid = parse_answer(DAY, "31/2", today=TODAY)
    assert isinstance(invalid, Invalid)
    assert error_message(DAY, invalid, "vi") == (
        "Đồng chí trả lời “31/2”. Ngày 31/2 không có trên lịch, vui lòng kiểm tra lại ngày"
        " và tháng, ví dụ: 28/9/2016."
    )
    future = parse_answer(DAY, "2/10/2016", today=TODAY)
    assert isinstance(future, Invalid)
    assert "2/10/2016" in error_message(DAY, future, "vi")
    assert "Ngày tổ chức hội nghị không thể" in error_message(DAY, future, "vi")


# --- choices and text ---


def test_choices_by_number_value_or_label() -> None:
    assert _ok(KIND, "1") == "truc_tiep"
    assert _ok(KIND, "2") == "truc_tuyen"
    assert _ok(KIND, "Trực tuyến") == "truc_tuyen"
    assert _ok(KIND, "truc tuyen") == "truc_tuyen"
    assert _ok(KIND, "TRUC_TIEP") == "truc_tiep"
    assert _ok(KIND, "online") == "truc_tuyen"
    assert _bad(KIND, "3") == "form.error.not_a_choice"
    assert _bad(KIND, "0") == "form.error.not_a_choice"
    message = error_message(KIND, Invalid("form.error.not_a_choice"), "vi")
    assert "1. Trực tiếp; 2. Trực tuyến" in message


def test_text_is_cleaned_and_limited() -> None:
    assert _ok(NAME, "  Nguye\u0302\u0303n  Văn\u200b A ") == "Nguyễn Văn A"
    assert _bad(NAME, "x" * 21) == "form.error.too_long"
    assert _ok(NAME, "") is None
    assert _ok(NAME, "bỏ qua") is None
    required = _field("name", "text")
    assert _bad(required, " \u200b\u200e ") == "form.error.required"


def test_optional_number_can_be_skipped() -> None:
    optional = _field("nonmembers", "int", required=False)
    assert _ok(optional, "Bỏ qua") is None
    assert _ok(optional, "bo qua") is None
    assert _ok(optional, "12") == 12


@pytest.mark.parametrize(
    "junk",
    [
        "x" * 4096,
        "😀" * 4096,
        "\u200f\u202e25\u202c",
        "2\u03015",
        "\u0301" * 100,
        "\x00\x01\x02",
        "٢٥",
        "1" * 5000,
    ],
)
def test_junk_is_refused_not_raised(junk: str) -> None:
    for field in (ATTENDED, DONE, DAY, NAME, KIND):
        result = parse_answer(field, junk, today=TODAY)
        assert isinstance(result, Parsed | Invalid)
        if isinstance(result, Invalid):
            assert error_message(field, result, "vi")
            assert error_message(field, result, "en")


def test_rtl_marks_around_a_number_are_ignored() -> None:
    assert _ok(ATTENDED, "\u200f25\u200e") == 25


@given(st.text(max_size=200), st.sampled_from([ATTENDED, DURATION, DONE, DAY, NAME, KIND]))
def test_parse_answer_never_raises(text: str, field: FormField) -> None:
    result = parse_answer(field, text, today=TODAY)
    assert isinstance(result, Parsed | Invalid)
    if isinstance(result, Invalid):
        assert error_message(field, result, "vi")


def test_error_messages_name_the_field_in_both_languages() -> None:
    invalid = parse_answer(ATTENDED, "abc", today=TODAY)
    assert isinstance(invalid, Invalid)
    assert (
        error_message(ATTENDED, invalid, "vi")
        == "Đồng chí trả lời “abc”. Số đảng viên dự phải là một số nguyên, ví dụ: 25."
    )
    assert error_message(ATTENDED, invalid, "en").startswith(
        "You answered “abc”. Item attended must be a whole number"
    )


def test_the_example_number_is_one_the_field_accepts() -> None:
    for field, text in ((DURATION, "hai buổi rưỡi"), (DURATION, "2,5"), (DURATION, "2 3")):
        invalid = parse_answer(field, text, today=TODAY)
        assert isinstance(invalid, Invalid)
        message = error_message(field, invalid, "vi")
        assert message.endswith("ví dụ: 2."), message
        assert "for example: 2." in error_message(field, invalid, "en")
    tiny = _field("tiny", "int", min=0, max=1)
    invalid = parse_answer(tiny, "abc", today=TODAY)
    assert isinstance(invalid, Invalid)
    assert error_message(tiny, invalid, "vi").endswith("ví dụ: 0.")


def test_a_label_inside_a_sentence_starts_in_lower_case() -> None:
    assert mid_sentence("Số đảng viên dự học tập") == "số đảng viên dự học tập"
    assert mid_sentence("MTTQ tỉnh") == "MTTQ tỉnh"
    assert mid_sentence("") == ""


# --- rules and flow ---


def _check(answers: dict[str, Any], end: date | None = None) -> list[str]:
    violations = check_rules(
        FORM, answers, campaign_start=date(2016, 5, 10), campaign_end=end, today=TODAY
    )
    return [violation_message(FORM, violation, "vi") for violation in violations]


def test_cross_field_rules() -> None:
    good = {"session_date": date(2016, 6, 5), "members": 30, "attended": 28, "essays": 27}
    assert _check(good) == []
    assert _check({**good, "attended": 31}) == [
        "Số đảng viên dự (31) không được lớn hơn số đảng viên (30).",
        # essays 27 <= attended 31 holds
    ]
    assert _check({**good, "essays": 29}) == [
        "Số bài thu hoạch (29) không được lớn hơn số đảng viên dự (28)."
    ]
    assert _check({**good, "session_date": date(2016, 5, 1)}) == [
        "Ngày hội nghị (1/5/2016) phải nằm trong thời gian của đợt học tập, "
        "từ 10/5/2016 đến 30/9/2016."
    ]
    assert _check({**good, "session_date": date(2016, 9, 1)}, end=date(2016, 8, 31)) != []
    assert _check(answers_to_json(FORM, {**good, "session_date": date(2016, 5, 1)})) != []
    # Rules over missing answers wait.
    assert _check({"attended": 31}) == []


def test_large_numbers_in_rule_messages_use_vietnamese_grouping() -> None:
    messages = _check({"members": 1200, "attended": 1234})
    assert messages == ["Số đảng viên dự (1.234) không được lớn hơn số đảng viên (1.200)."]


def test_conditional_field_is_asked_only_when_its_condition_holds() -> None:
    answers: dict[str, Any] = {
        "session_date": date(2016, 6, 5),
        "members": 30,
        "attended": 28,
        "essays": 27,
    }
    field = next_field(FORM, answers)
    assert field is not None and field.key == "action_program"
    assert "action_program_date" not in [f.key for f in fields_to_ask(FORM, answers)]
    answers["action_program"] = False
    assert next_field(FORM, answers) is None
    answers["action_program"] = True
    nxt = next_field(FORM, answers)
    assert nxt is not None and nxt.key == "action_program_date"
    assert [f.key for f in missing_fields(FORM, answers)] == ["action_program_date"]
    answers["action_program_date"] = date(2016, 9, 20)
    assert missing_fields(FORM, answers) == []
    # Changing the answer to "no" drops the date from what is kept and measured.
    answers["action_program"] = False
    assert "action_program_date" not in prune_answers(FORM, answers)
    assert measures_of(FORM, answers)["action_program_date"] is None


def test_defaults_and_measures() -> None:
    unit = SimpleNamespace(members=42, name="Chi bộ thôn Đông")
    assert defaults_for(FORM, unit) == {"members": 42}
    answers = {
        "session_date": date(2016, 6, 5),
        "members": 42,
        "attended": 40,
        "essays": 38,
        "action_program": True,
        "action_program_date": date(2016, 9, 20),
    }
    assert measures_of(FORM, answers) == {
        "session_date": date(2016, 6, 5),
        "members": 42,
        "attended": 40,
        "essays": 38,
        "action_program": True,
        "action_program_date": date(2016, 9, 20),
    }
    stored = answers_to_json(FORM, answers)
    assert stored["session_date"] == "2016-06-05"
    assert answers_from_json(FORM, stored) == answers
    assert measures_of(FORM, stored) == measures_of(FORM, answers)


def test_format_answer_for_summaries() -> None:
    assert format_answer(DAY, date(2016, 9, 28), "vi") == "28/9/2016"
    assert format_answer(DONE, True, "vi") == "Có"
    assert format_answer(DONE, False, "vi") == "Chưa"
    assert format_answer(DONE, True, "en") == "Yes"
    assert format_answer(ATTENDED, 1234, "vi") == "1.234"
    assert format_answer(KIND, "truc_tuyen", "vi") == "Trực tuyến"
    assert format_answer(NAME, None, "vi") == "—"
    # An English reader gets English dates and numbers (one formatting owner for both).
    assert format_answer(DAY, date(2016, 9, 28), "en") == "28 Sep 2016"
    assert format_answer(ATTENDED, 1234, "en") == "1,234"


def test_every_suggestion_parses_back_to_what_it_shows() -> None:
    for field, default in ((DAY, None), (DONE, None), (KIND, None), (NAME, None), (ATTENDED, 25)):
        for suggestion in suggestions(field, "vi", default=default):
            result = parse_answer(field, suggestion.text, today=TODAY)
            assert isinstance(result, Parsed), (field.key, suggestion)
            assert format_answer(
                field, result.value, "vi"
            ) == suggestion.label or suggestion.label in ("Hôm nay", "Hôm qua", "Bỏ qua")
    assert [s.label for s in suggestions(DAY, "vi")] == ["Hôm nay", "Hôm qua"]
    assert [s.label for s in suggestions(NAME, "en")] == ["Skip"]


def test_declaration_problems_are_found() -> None:
    assert form_problems(FORM) == []
    broken = Form.model_validate(
        {
            "fields": [
                {**_field("a", "int").model_dump(), "measure": "essays"},
                {**_field("a", "int").model_dump()},
                {**_field("b", "text").model_dump(), "measure": "attended"},
                {**_field("c", "int").model_dump(), "measure": "nonsense"},
                {**_field("d", "int").model_dump(), "when": {"field": "zzz", "equals": True}},
            ],
            "rules": [{"lte": ["a", "missing"]}, {"date_in_campaign": "a"}, {}],
        }
    )
    found = {(problem.loc, problem.code) for problem in form_problems(broken)}
    assert found == {
        (("fields", 1, "key"), "form.decl.duplicate_key"),
        (("fields", 2, "measure"), "form.decl.measure_type"),
        (("fields", 3, "measure"), "form.decl.unknown_measure"),
        (("fields", 4, "when", "field"), "form.decl.when_field"),
        (("rules", 0, "lte", 1), "form.decl.rule_field"),
        (("rules", 1, "date_in_campaign"), "form.decl.rule_type"),
        (("rules", 2), "form.decl.rule_kind"),
    }


DOCUMENT = FormField(
    key="action_program_number", type="text", text_kind="document_number",
    required=False, max_length=40, label_vi="Số hiệu", label_en="Number",
    prompt_vi="Số hiệu?", prompt_en="Number?",
)  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("05-CTr/ĐU", "05-CTr/ĐU"),
        ("Số 05 - CTr / ĐU", "05-CTr/ĐU"),
        ("số: 12-KH/HU ạ", "12-KH/HU"),
        ("123-CTr/ĐU-ĐB", "123-CTr/ĐU-ĐB"),
        ("05-CTr/ĐU...", "05-CTr/ĐU"),
        ("Số 05-CTr/ĐU!", "05-CTr/ĐU"),
        ("05-CTr/ĐU.", "05-CTr/ĐU"),
        ("chưa có", None),
        ("bỏ qua", None),
    ],
)
def test_a_document_number_as_written_on_the_document(typed: str, value: str | None) -> None:
    assert parse_answer(DOCUMENT, typed, today=TODAY) == Parsed(value)


@pytest.mark.parametrize("typed", ["05", "CTr/ĐU", "05 CTr ĐU", "năm-CTr/ĐU", "05-/ĐU", "có"])
def test_what_is_not_a_document_number_is_refused(typed: str) -> None:
    invalid = parse_answer(DOCUMENT, typed, today=TODAY)
    assert isinstance(invalid, Invalid) and invalid.code == "form.error.not_a_document_number"
    assert "05-CTr/ĐU" in error_message(DOCUMENT, invalid)
