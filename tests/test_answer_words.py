"""The answer normaliser: every valid answer, decorated the way secretaries write it (courtesy
particles, punctuation, case, no diacritics, number words), parses to the same value; relative
dates; names checked as names; commands typed without their slash."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.answer_words import (
    halfdays,
    name_problem,
    number_words,
    relative_date,
    typed_command,
    variants,
)
from storage.answers import fold, strip_diacritics
from storage.campaigns import parse_definition, template_text
from storage.forms import FieldType, FormField, Invalid, Parsed, parse_answer

TODAY = date(2016, 9, 29)  # a Thursday

PREFIXES = ["", "dạ ", "Dạ ", "thưa đồng chí ", "vâng ", "Dạ vâng, "]
SUFFIXES = [
    *("", " ạ", " ạ.", " nhé", " ạ!", " a", "!", ".", " nhé ạ", " ạ nhé", "...", " đồng chí ạ"),
]


def decorate(data: st.DataObject, plain: str) -> str:
    text = data.draw(st.sampled_from(PREFIXES)) + plain + data.draw(st.sampled_from(SUFFIXES))
    if data.draw(st.booleans()):
        text = strip_diacritics(text)
    case = data.draw(st.sampled_from(["same", "upper", "lower", "title"]))
    return {"upper": text.upper(), "lower": text.lower(), "title": text.title()}.get(case, text)


def fields() -> list[FormField]:
    """Every field of the built-in template, every deliverable."""
    definition = parse_definition(template_text())
    return [item for deliverable in definition.deliverables for item in deliverable.fields]


def valid_answers(field: FormField) -> list[str]:
    if field.type == FieldType.INT:
        low = field.min or 0
        return [str(low), str(low + 1), "2", f"{low + 3} đồng chí", "15"]
    if field.type == FieldType.BOOL:
        return ["có", "chưa", "không", "rồi", "đã xây dựng"]
    if field.type == FieldType.DATE:
        return ["28/9", "28-9", "28.9.2016", "hôm qua", "hôm nay", "thứ hai tuần trước"]
    if field.type == FieldType.CHOICE:
        return [choice.label_vi for choice in field.choices]
    if field.text_kind == "document_number":
        return ["05-CTr/ĐU", "Số 12-CTr/HU"]
    return ["Nguyễn Văn An, Phó Bí thư"]


CASES = [(f, answer) for f in fields() for answer in valid_answers(f)]


@given(st.sampled_from(CASES), st.data())
def test_a_valid_answer_written_politely_means_the_same(
    case: tuple[FormField, str], data: st.DataObject
) -> None:
    field, plain = case
    expected = parse_answer(field, plain, today=TODAY)
    assert isinstance(expected, Parsed), (field.key, plain, expected)
    decorated = decorate(data, plain)
    got = parse_answer(field, decorated, today=TODAY)
    if field.text_kind == "document_number":  # the number itself, as typed but for its case
        assert isinstance(got, Parsed) and isinstance(got.value, str), (decorated, got)
        assert isinstance(expected.value, str)
        assert fold(got.value) == fold(expected.value), (decorated, got, expected)
    elif field.type == FieldType.TEXT:
        assert isinstance(got, Parsed) and got.value is not None
        assert fold(plain) in fold(got.value)
        assert name_problem(fold(got.value)) is None
    else:
        assert got == expected, (field.key, decorated, got, expected)


# --- Vietnamese number words -------------------------------------------------------------------

DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]


def spoken(n: int, data: st.DataObject) -> str:
    """A reference speller of 0..999 with the usual variants (mốt, tư, lăm, linh/lẻ, hai mốt)."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        unit = n % 10
        if unit == 0:
            return "mười"
        word = data.draw(st.sampled_from(["lăm", "năm"])) if unit == 5 else DIGITS[unit]
        return f"mười {word}"
    if n < 100:
        tens, unit = divmod(n, 10)
        if unit == 0:
            return f"{DIGITS[tens]} mươi"
        word = DIGITS[unit]
        if unit == 1:
            word = "mốt"
        elif unit == 5:
            word = data.draw(st.sampled_from(["lăm", "nhăm"]))
        elif unit == 4:
            word = data.draw(st.sampled_from(["tư", "bốn"]))
        if unit in (1, 4, 5) and data.draw(st.booleans()):
            word = "tư" if unit == 4 else word
            return f"{DIGITS[tens]} {word}"  # "hai mốt", "ba tư", "hai lăm"
        return f"{DIGITS[tens]} mươi {word}"
    hundreds, rest = divmod(n, 100)
    head = f"{DIGITS[hundreds]} trăm"
    if rest == 0:
        return head
    if rest < 10:
        return f"{head} {data.draw(st.sampled_from(['linh', 'lẻ']))} {DIGITS[rest]}"
    return f"{head} {spoken(rest, data)}"


@given(st.integers(min_value=0, max_value=999), st.data())
def test_number_words_read_every_number_up_to_999(n: int, data: st.DataObject) -> None:
    words = spoken(n, data)
    assert number_words(fold(words)) == n, words


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("hai buổi", 2),
        ("mười lăm", 15),
        ("Hai Mươi", 20),
        ("hai mươi mốt đồng chí ạ", 21),
        ("mười tư", 14),
        ("một nghìn hai trăm", 1200),
        ("không", 0),
        ("ko", 0),
        ("chưa có ạ", 0),
        ("không có ai", 0),
    ],
)
def test_counts_in_words_and_no_words(text: str, value: int) -> None:
    attended = next(f for f in fields() if f.key == "attended")
    assert parse_answer(attended, text, today=TODAY) == Parsed(value)


def test_zero_words_skip_an_optional_count_and_are_refused_where_zero_is_not_allowed() -> None:
    duration = next(f for f in fields() if f.key == "duration_halfdays")
    refused = parse_answer(duration, "không ạ", today=TODAY)
    assert isinstance(refused, Invalid) and refused.code == "form.error.too_small"
    optional = duration.model_copy(update={"required": False})
    assert parse_answer(optional, "không", today=TODAY) == Parsed(None)


@pytest.mark.parametrize(
    ("text", "value"),
    [("nửa ngày", 1), ("1 ngày", 2), ("cả ngày", 2), ("hai ngày", 4), ("một ngày rưỡi", 3)],
)
def test_a_session_length_said_in_days(text: str, value: int) -> None:
    assert halfdays(fold(text)) == value
    duration = next(f for f in fields() if f.key == "duration_halfdays")
    assert parse_answer(duration, text + " ạ", today=TODAY) == Parsed(value)
    attended = next(f for f in fields() if f.key == "attended")
    assert isinstance(parse_answer(attended, text, today=TODAY), Invalid)  # days only for buổi


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("hôm qua", date(2016, 9, 28)),
        ("hôm kia", date(2016, 9, 27)),
        ("thứ hai", date(2016, 9, 26)),
        ("thứ năm", date(2016, 9, 29)),  # today
        ("thứ sáu", date(2016, 9, 23)),  # not yet this week: last week's
        ("thứ hai tuần trước", date(2016, 9, 19)),
        ("chủ nhật tuần trước", date(2016, 9, 25)),
        ("thứ 3 tuần này", date(2016, 9, 27)),
        ("ngày hôm qua", date(2016, 9, 28)),
    ],
)
def test_relative_dates_from_today(text: str, value: date) -> None:
    assert relative_date(fold(text), TODAY) == value


def test_a_relative_date_in_the_future_is_refused() -> None:
    day = next(f for f in fields() if f.key == "session_date")
    future = parse_answer(day, "thứ sáu tuần này", today=TODAY)
    assert isinstance(future, Invalid) and future.code == "form.error.future_date"


# --- names, commands, particles ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["45", "không", "Không ạ", "ko", "x", "123 456", "chưa có"])
def test_a_presenter_must_be_a_name(text: str) -> None:
    presenter = next(f for f in fields() if f.key == "presenter")
    required = presenter.model_copy(update={"required": True})
    result = parse_answer(required, text, today=TODAY)
    assert isinstance(result, Invalid) and result.code == "form.error.not_a_name", result


def test_an_optional_presenter_answered_no_is_skipped_and_a_name_keeps_its_form() -> None:
    presenter = next(f for f in fields() if f.key == "presenter")
    assert parse_answer(presenter, "không có ạ", today=TODAY) == Parsed(None)
    assert parse_answer(presenter, "45", today=TODAY) == Invalid(
        "form.error.not_a_name", heard="45"
    )
    named = parse_answer(presenter, "Đ/c Lê Thị Hoa, Trưởng ban Tuyên giáo ạ.", today=TODAY)
    assert named == Parsed("Đ/c Lê Thị Hoa, Trưởng ban Tuyên giáo")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("báo cáo", "baocao"),
        ("Bao cao", "baocao"),
        ("BÁO CÁO ạ", "baocao"),
        ("cập nhật", "capnhat"),
        ("tình trạng nhé", "tinhtrang"),
        ("báo cáo viên", None),
        ("xin chào", None),
    ],
)
def test_commands_typed_without_the_slash(text: str, command: str | None) -> None:
    assert typed_command(fold(text)) == command


def test_variants_strip_particles_one_step_at_a_time() -> None:
    assert variants(fold("Dạ, 52 ạ!")) == ["da, 52 a", "da, 52", "52"]
    assert variants(fold("a")) == ["a"]  # "a" alone is not a particle
    assert variants("") == []


def test_refusal_quotes_what_was_understood() -> None:
    from storage.forms import error_message

    duration = next(f for f in fields() if f.key == "duration_halfdays")
    result: Any = parse_answer(duration, "hai mươi lăm buổi ạ", today=TODAY)
    assert isinstance(result, Invalid) and result.understood == 25
    assert error_message(duration, result, "vi") == (
        "Đồng chí trả lời “hai mươi lăm buổi ạ”, được hiểu là 25. Thời gian học tập (số buổi)"
        " không được lớn hơn 20, ví dụ: 2."
    )
