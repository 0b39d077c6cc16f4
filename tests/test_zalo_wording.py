"""Zalo has no buttons: no text that can reach a Zalo chat tells the reader to press one.

Texts that only Telegram or the web console show are listed by prefix; everything else in the
catalogs (the command layer, the conversation engine, reminders, digests) reaches Zalo too."""

from __future__ import annotations

import re

from storage.i18n import catalog

# Shown only where buttons exist: the Telegram adapter, Telegram's callback answers (a press
# exists only there), the web console's pages.
ONLY_WITH_BUTTONS = ("telegram.", "callback.", "web.", "admin.export.stale")

WORDS = {
    "vi": re.compile(r"\b(bấm|nhấn|chạm|nút)\b", re.IGNORECASE),
    "en": re.compile(r"\b(press|tap|click|button)\w*", re.IGNORECASE),
}


def test_no_text_that_reaches_zalo_mentions_a_button() -> None:
    offending = [
        (lang, key, text)
        for lang, words in WORDS.items()
        for key, text in catalog(lang).items()
        if not key.startswith(ONLY_WITH_BUTTONS) and words.search(text)
    ]
    assert offending == []
