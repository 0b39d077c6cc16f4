"""Typed answers as people write them: `25`, `25 đồng chí`, `1.234`, `28/9`, `hôm qua`, `có`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, timedelta
from typing import Any

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
    if not folded or folded in SKIP_WORDS:
        return Invalid("form.error.required") if field.required else Parsed(None)
    if field.type == FieldType.TEXT:
        return _parse_text(field, text)
    if len(folded) > MAX_TYPED:
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
