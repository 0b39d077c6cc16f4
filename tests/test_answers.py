"""Text normalisation and the Vietnamese way of writing values."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from storage.answers import clean_text, fold, format_date, format_int, strip_diacritics


def test_clean_text_removes_invisible_and_control_characters() -> None:
    assert clean_text("  Nguyễn\u200b Văn\u200e A \u202e") == "Nguyễn Văn A"
    assert clean_text("a\x00b\tc\n\nd") == "ab c d"
    assert clean_text("\ufeffTrần") == "Trần"


def test_clean_text_composes_to_nfc() -> None:
    decomposed = "Nguye\u0302\u0303n"  # e + circumflex + tilde, as some keyboards send it
    assert clean_text(decomposed) == "Nguyễn"
    assert len(clean_text(decomposed)) == len("Nguyễn")


def test_clean_text_drops_orphan_and_piled_up_combining_marks() -> None:
    assert clean_text("\u0301abc") == "abc"
    assert len(clean_text("a" + "\u0301" * 40)) <= 3
    assert clean_text("x \u0303y") == "x y"


def test_fold_makes_answers_comparable() -> None:
    assert fold("  HÔM   NAY ") == "hom nay"
    assert fold("Đã") == "da"
    assert fold("２８／９") == "28/9"
    assert strip_diacritics("Chưa có") == "Chua co"


@given(st.text(max_size=300))
def test_clean_text_is_idempotent_and_has_no_invisible_characters(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once
    assert "\u200b" not in once and "\x00" not in once
    assert once == once.strip()


def test_format_int_and_date_the_vietnamese_way() -> None:
    assert format_int(1234) == "1.234"
    assert format_int(1234567) == "1.234.567"
    assert format_int(25) == "25"
    assert format_int(1234, "en") == "1,234"
    assert format_date(date(2016, 9, 30)) == "30/9/2016"
    assert format_date(date(2016, 6, 1)) == "1/6/2016"
