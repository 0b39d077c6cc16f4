"""Text normalisation for typed answers, and the Vietnamese way of writing values.

Pure functions, no database. `clean_text` makes what a person typed safe to store (NFC, no
control or invisible characters, single spaces); `fold` makes it comparable (also NFKC, so
full-width digits become ASCII, lower case, no diacritics, `đ` -> `d`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from storage.i18n.formatting import date_text, number
from storage.text_clean import NUL, clean

# Characters that are invisible or steer the layout: zero-width spaces/joiners, BOM, bidi marks
# and embeddings. Category Cf covers all of them; Cc are control characters; Cs lone surrogates.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_WHITESPACE = re.compile(r"\s+")
_MAX_COMBINING_RUN = 2


def clean_text(text: str) -> str:
    """NFC, invisible and control characters removed, whitespace collapsed, stripped.

    The control and format characters (NUL included: a chat answer is cleaned, not refused) are
    removed by the one cleaner of text entering the database, `storage.text_clean.clean`. Stray
    combining marks (at the start, after a space, or more than two in a row) are dropped too,
    so "zalgo" text and orphan accents cannot reach the database or a report."""
    text = clean(text.replace(NUL, ""))
    out: list[str] = []
    run = 0
    for char in text:
        category = unicodedata.category(char)
        if category in _DROP_CATEGORIES:  # lone surrogates (Cc and Cf are already gone)
            run = 0
            continue
        if category.startswith("M"):
            if not out or out[-1].isspace() or run >= _MAX_COMBINING_RUN:
                continue
            run += 1
        else:
            run = 0
        out.append(char)
    cleaned = _WHITESPACE.sub(" ", "".join(out)).strip()
    return unicodedata.normalize("NFC", cleaned)


def strip_diacritics(text: str) -> str:
    """`Hôm nay` -> `Hom nay`, `Đã` -> `Da`."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return bare.replace("đ", "d").replace("Đ", "D")


def fold(text: str) -> str:
    """The matching form: cleaned, NFKC (full-width digits -> ASCII), lower case, no diacritics."""
    text = unicodedata.normalize("NFKC", clean_text(text))
    return _WHITESPACE.sub(" ", strip_diacritics(text).casefold()).strip()


def format_int(value: int, lang: str = "vi") -> str:
    """`1234` -> `1.234` (Vietnamese) or `1,234` (English): `storage.i18n.formatting.number`."""
    return number(value, lang)


def format_date(value: date, lang: str = "vi") -> str:
    """`28/9/2016` (Vietnamese) or `28 Sep 2016`: `storage.i18n.formatting.date_text`."""
    return date_text(value, lang)
