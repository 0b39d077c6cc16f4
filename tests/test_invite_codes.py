"""The invite code a person reads aloud and types: its alphabet, how it is found in what people
actually send, and what is never taken for a code."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.invite_codes import (
    ALPHABET,
    MASK,
    find_code,
    hash_code,
    mask_codes,
    new_code,
    normalise_code,
)

CODE = "K7Q4M-2XP9T"


def test_alphabet_has_no_confusable_or_keyboard_rewritten_characters() -> None:
    assert not set(ALPHABET) & set("0O1IL")
    # Telex/VNI rewrite vowels, "dd" and "w" as the person types: none in the alphabet.
    assert not set(ALPHABET) & set("AEIOUYDW")
    assert len(ALPHABET) == 25


def test_new_codes_are_two_groups_of_five_never_starting_with_a_dash() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        first, second = code.split("-")
        assert len(first) == len(second) == 5
        assert set(first + second) <= set(ALPHABET)
        assert not code.startswith("-")
        for group in (first, second):
            assert any(c.isdigit() for c in group) and any(c.isalpha() for c in group)
        assert find_code(code) == code


def test_entropy_stated_in_the_docstring_holds() -> None:
    per_group = 25**5 - 17**5 - 8**5
    assert per_group == 8_313_000
    assert round(math.log2(per_group**2), 1) == 46.0


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        "k7q4m-2xp9t",
        "k7q4m 2xp9t",
        "K7Q4M2XP9T",
        "Mã của em là k7q4m 2xp9t ạ",
        "Mã của em là K7Q4M-2XP9T ạ.",
        "dạ mã là: k7q 4m2 xp9t",
        "K7Q4M – 2XP9T",
        "https://t.me/cadre_bot?start=K7Q4M-2XP9T",
        "ｋ７ｑ４ｍ ２ｘｐ９ｔ",  # full-width, as some phone keyboards send
        "BCFGH K7Q4M 2XP9T",  # a code-like word before it does not hide it
    ],
)
def test_code_is_found_however_it_is_typed(typed: str) -> None:
    assert find_code(typed) == CODE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "xin chào",
        "Em tên Trang thanh, số điện thoại 0912345678",
        "thanh trang chung",
        "ngày 28/9/2016 có 25 đồng chí dự",
        "K7Q4M-2XP9",  # one character short
        "K7Q4M-2XP9TT",  # one too many
        "K7Q4M-2XP9T5",
        "BCFGH-JKMNP",  # a group without a digit
        "23456-78923",  # a group without a letter
        "K7Q4O-2XP9T",  # O is not in the alphabet
    ],
)
def test_nothing_else_is_taken_for_a_code(text: str) -> None:
    assert find_code(text) is None


def test_normalise_takes_only_a_code_alone() -> None:
    assert normalise_code(" k7q4m 2xp9t ") == CODE
    assert normalise_code("Mã là K7Q4M-2XP9T") is None


def test_every_way_of_typing_hashes_the_same() -> None:
    assert hash_code("k7q4m 2xp9t") == hash_code(CODE) == hash_code("K7Q4M2XP9T")
    legacy = "Ab3_xY9kLmN0pQrStUvWz12-"
    assert hash_code(legacy) != hash_code(legacy.lower())  # older codes stay case-sensitive


SEPARATORS = st.sampled_from(["", " ", "-", " - ", "  "])
WORDS = st.lists(
    st.sampled_from(["Mã", "của", "em", "là", "đây", "ạ", "anh", "ơi", "chi bộ", "thôn", "xã"]),
    max_size=5,
)


@given(
    before=WORDS,
    after=WORDS,
    sep=SEPARATORS,
    lower=st.booleans(),
)
def test_a_code_inside_any_short_vietnamese_sentence_is_found(
    before: list[str], after: list[str], sep: str, lower: bool
) -> None:
    code = new_code()
    first, second = code.split("-")
    typed = first + sep + second
    if lower:
        typed = typed.lower()
    text = " ".join([*before, typed, *after])
    assert find_code(text) == code


def test_mask_hides_written_codes_and_links() -> None:
    text = f"Mã mời: {CODE}\nhttps://t.me/cadre_bot?start={CODE}"
    masked, hidden = mask_codes(text)
    assert hidden and CODE not in masked
    assert masked.count(MASK) == 2
    assert mask_codes("Không có mã: H01-01, 94,8%") == ("Không có mã: H01-01, 94,8%", False)
