"""Every message exists in both languages, and placeholders match."""

from __future__ import annotations

import re
import string

from storage.i18n import LANGUAGES, catalog, pick_language, t

PLACEHOLDER = re.compile(r"\{(\w+)")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_in_every_language_with_the_same_placeholders() -> None:
    vi = catalog("vi")
    assert vi, "the Vietnamese catalog is empty"
    for lang in LANGUAGES:
        other = catalog(lang)
        assert set(other) == set(vi), f"{lang}: keys differ: {set(other) ^ set(vi)}"
        for key, text in vi.items():
            assert _fields(other[key]) == _fields(text), f"{lang}:{key} placeholders differ"


def test_language_choice() -> None:
    assert pick_language(None, "en-US") == "en"
    assert pick_language("vi", "en") == "vi"
    assert pick_language(None, "fr") == "vi"
    assert t("common.yes", "en") == "Yes"
    assert t("common.yes") == "Có"
