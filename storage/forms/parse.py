"""Typed answers as people write them: `25`, `25 đồng chí`, `1.234`, `28/9`, `hôm qua`, `có`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from typing import Any

from storage.answer_words import (
    NONE_WORDS,
    halfdays,
    name_problem,
    number_words,
    relative_date,
    variants,
)
from storage.answers import clean_text, fold
from storage.forms.model import INT_CEILING, MAX_INPUT, MAX_TYPED, FieldType, FormField

# --- parsing typed answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    value: Any  # int | bool | date | str | None (None: an optional field skipped)


@dataclass(frozen=True)
class Invalid:
    code: str  # catalog key, e.g. "form.error.not_a_number"
    params: dict[str, Any] = dc_field(default_factory=dict)
    heard: str | None = None  # what the person typed (quoted back in the message)
    understood: Any = None  # the value it was read as, when it was read but refused


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
    if len(text) > MAX_INPUT:
        code = (
            "form.error.too_long" if field.type == FieldType.TEXT else _NOT_UNDERSTOOD[field.type]
        )
        return Invalid(code, {"max": field.max_length})
    folded = fold(text)
    forms = variants(folded)
    if not folded or not forms or any(form in SKIP_WORDS for form in forms):
        return Invalid("form.error.required") if field.required else Parsed(None)
    heard = clean_text(text)[:_MAX_QUOTED]
    if field.type == FieldType.TEXT:
        return _quoted(_parse_text(field, text, forms), heard)
    if len(folded) > MAX_TYPED:
        return _quoted(Invalid(_NOT_UNDERSTOOD[field.type]), heard)
    result: ParseResult = Invalid(_NOT_UNDERSTOOD[field.type])
    # Each variant in turn (as typed, then without "ạ", "nhé", "dạ" ...): the first that
    # parses wins; a refusal is the one of the barest form (what was understood).
    for form in forms:
        if field.type == FieldType.INT:
            result = _parse_int(field, form)
        elif field.type == FieldType.BOOL:
            result = _parse_bool(form)
        elif field.type == FieldType.DATE:
            result = _parse_date(form, today)
        else:
            result = _parse_choice(field, form)
        if isinstance(result, Parsed):
            return result
    return _quoted(result, heard)


# How much of a refused answer is quoted back.
_MAX_QUOTED = 40


def _quoted(result: ParseResult, heard: str) -> ParseResult:
    if isinstance(result, Invalid) and heard and result.heard is None:
        return Invalid(result.code, result.params, heard, result.understood)
    return result


_NOT_UNDERSTOOD: dict[FieldType, str] = {
    FieldType.INT: "form.error.not_a_number",
    FieldType.BOOL: "form.error.not_yes_no",
    FieldType.DATE: "form.error.not_a_date",
    FieldType.CHOICE: "form.error.not_a_choice",
}


# A courtesy particle at the end of a text answer ("... ạ", "... nhé"): written with its
# diacritics it cannot be part of a name or a position.
_TEXT_COURTESY = re.compile(r"(?:[\s,]+(?:ạ|nhé|nha|nhé ạ|ạ nhé))+[\s.!]*$", re.IGNORECASE)


# A document's number as Party documents write it ("05-CTr/ĐU", "12-KH/HU"): the number, a
# dash, the kind of document, a slash and the issuer; "Số" before it and spaces are dropped.
_DOCUMENT_PREFIX = re.compile(r"^s[oố]\s*[:.]?\s*", re.IGNORECASE)
_DOCUMENT_NUMBER = re.compile(r"^[0-9]{1,5}-[^\W\d_]{1,10}(?:/[^\W_][\w.-]{0,19}){1,3}$")
# The same number inside a polite sentence ("Dạ, số 05 - CTr/ĐU ạ").
_DOCUMENT_IN_TEXT = re.compile(
    r"(?<![\w-])[0-9]{1,5}\s*-\s*[^\W\d_]{1,10}(?:\s*/\s*[^\W_][\w.-]{0,19}){1,3}"
)


def _document_number(cleaned: str) -> str | None:
    # A sentence's closing punctuation ("05-CTr/ĐU...", "05-CTr/ĐU!") is not part of the number.
    bare = _DOCUMENT_PREFIX.sub("", cleaned).rstrip(" .!?,;")
    compact = re.sub(r"\s*([-/])\s*", r"\1", bare)
    if _DOCUMENT_NUMBER.fullmatch(compact):
        return compact
    found = _DOCUMENT_IN_TEXT.findall(cleaned)
    if len(found) != 1:  # none, or two numbers: which one was meant is not ours to guess
        return None
    compact = re.sub(r"\s*([-/])\s*", r"\1", found[0]).rstrip(".-")
    return compact if _DOCUMENT_NUMBER.fullmatch(compact) else None


def _parse_text(field: FormField, text: str, forms: list[str]) -> ParseResult:
    cleaned = _TEXT_COURTESY.sub("", clean_text(text)).strip()
    if not cleaned:
        return Invalid("form.error.required") if field.required else Parsed(None)
    if len(cleaned) > field.max_length:
        return Invalid("form.error.too_long", {"max": field.max_length})
    if field.text_kind == "document_number":
        if not field.required and forms[-1] in NONE_WORDS:
            return Parsed(None)  # "chưa có số": the optional number is skipped
        number = _document_number(cleaned)
        return Parsed(number) if number else Invalid("form.error.not_a_document_number")
    if field.text_kind == "name":
        if not field.required and forms[-1] in NONE_WORDS:
            return Parsed(None)  # "không có" a presenter: the optional field is skipped
        problem = name_problem(fold(cleaned))
        if problem is not None:
            return Invalid(problem)
    return Parsed(cleaned)


# Words that may follow a count written in words: "hai buổi", "mười lăm đồng chí".
_COUNT_UNIT_TAIL = re.compile(rf"\s*(?:{_COUNT_UNITS})$")


def _is_halfdays(field: FormField) -> bool:
    return field.measure == "duration_halfdays" or field.key == "duration_halfdays"


def _parse_int(field: FormField, folded: str) -> ParseResult:
    if folded in NONE_WORDS:
        low = field.min if field.min is not None else 0
        if low <= 0:
            return Parsed(0)
        if not field.required:
            return Parsed(None)
        return Invalid("form.error.too_small", {"min": low})
    spoken = _COUNT_UNIT_TAIL.sub("", folded).strip()
    worded = number_words(spoken) if spoken else None
    if worded is None and _is_halfdays(field):
        worded = halfdays(folded)
    if worded is not None:
        return _in_range(field, worded)
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
    return _in_range(field, int(digits))


def _in_range(field: FormField, value: int) -> ParseResult:
    low = field.min if field.min is not None else 0
    high = min(field.max, INT_CEILING) if field.max is not None else INT_CEILING
    if value < low:
        return Invalid("form.error.too_small", {"min": low}, understood=value)
    if value > high:
        return Invalid("form.error.too_large", {"max": high}, understood=value)
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
    relative = relative_date(word, today)
    if relative is not None:
        if relative > today:
            return Invalid("form.error.future_date", {"value": relative})
        return Parsed(relative)
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
    number = int(word) if word.isdigit() and len(word) <= 3 else number_words(word)
    if number is not None and 1 <= number <= len(field.choices):  # "2", "hai"
        return Parsed(field.choices[number - 1].value)
    for choice in field.choices:
        names = {fold(choice.value), fold(choice.label_vi), fold(choice.label_en)}
        if word in names:
            return Parsed(choice.value)
    return Invalid("form.error.not_a_choice")
