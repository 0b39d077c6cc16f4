"""One cleaner for all text entering the database: imported unit, people and report files, chat
answers and the web console's forms (`bot/web/fields.py`; the campaign definition cleans its
name, reference and resolution itself).

- NUL (U+0000) is refused: PostgreSQL cannot store it in text, and no honest file contains it.
  `BadText` says so; each importer reports it with the line number.
- Every other control or format character (Unicode categories Cc and Cf: the C0/C1 controls,
  zero-width spaces and joiners, bidirectional marks, the BOM, soft hyphens ...) is removed. Tab
  and newline are kept in multi-line text and become a space elsewhere. They are invisible in a
  chat or a sheet, break sorting and look-ups, and openpyxl refuses to write most of them
  (IllegalCharacterError), which made every export fail.
- The result is NFC (Vietnamese typed on phones and on Windows arrives in both forms).
"""

from __future__ import annotations

import re
import unicodedata

NUL = "\x00"
# Unicode categories Cc and Cf (Unicode 14, Python 3.11), as ranges: building the class from
# `unicodedata` at import would cost 0.15 s. tests/test_text_clean.py checks it is complete.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_KEEP_MULTILINE = {"\t", "\n"}


class BadText(ValueError):
    """Text that is refused rather than cleaned (`reason`: "nul")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def has_nul(text: str) -> bool:
    return NUL in text


# The C0 and C1 controls (category Cc): what a YAML campaign file refuses (PyYAML reads no
# control character but tab and newline; a one-line form field takes neither).
_CC = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    """Whether `text` holds a C0 or C1 control character (tab and newline included)."""
    return _CC.search(text) is not None


def clean(text: str, *, multiline: bool = False) -> str:
    """`text` without control and format characters, NFC; raises BadText("nul") on a NUL.

    Not stripped: callers decide about surrounding spaces. A CR LF or a lone CR in multi-line
    text becomes a newline."""
    if NUL in text:
        raise BadText("nul")
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if multiline and char in _KEEP_MULTILINE:
            return char
        return " " if char in {"\t", "\n", "\r", "\x0b", "\x0c", "\x85"} else ""

    if _CONTROL.search(text):
        text = _CONTROL.sub(replace, text)
    return unicodedata.normalize("NFC", text)
