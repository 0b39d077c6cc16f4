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


# A count placeholder written straight before a plural noun in English ("{count} units"): the
# noun must be the count's plural field instead ("{count} {count:unit|units}"). A word ("some
# units") or a level's name ("{level} reports it") is not a count.
BARE_PLURAL = re.compile(
    r"\{(?!quantifier\}|level\})\w+\}\)? (units|rows|files|people|reports|messages|days|members"
    r"|invites|errors|problems|minutes|roles|lines|questions|deadlines|times|reminders|half-days"
    r"|characters|numbers|items|levels|non-members)\b"
)


def test_no_english_count_before_a_bare_plural_noun() -> None:
    bare = {key: text for key, text in catalog("en").items() if BARE_PLURAL.search(text)}
    assert bare == {}


def test_english_nouns_agree_with_their_count() -> None:
    one = t("digest.scope.admin", "en", count="1")
    many = t("digest.scope.admin", "en", count="2")
    assert one == "Scope: every unit you administer (1 unit expected to report)."
    assert many == "Scope: every unit you administer (2 units expected to report)."
    assert t("figures.share.units", "en", count="1", covered="1", percent="100%") == (
        "1 of 1 unit (100%)"
    )
    assert t("figures.share.units", "en", count="1", covered="2", percent="50.0%") == (
        "1 of 2 units (50.0%)"
    )
    assert t("review.digest.pending", "en", count="1") == (
        "1 report awaits review (see it with /duyet)."
    )
    assert t("review.digest.pending", "en", count="2") == (
        "2 reports await review (see them with /duyet)."
    )
    # Integers, and numbers as the reader sees them: 1,234 and 0 are plural.
    assert t("people.list.count", "en", count=1) == "1 person."
    assert t("people.list.count", "en", count="1,234") == "1,234 people."
    assert t("people.list.count", "en", count="0") == "0 people."


def test_vietnamese_has_no_plural_forms() -> None:
    assert t("digest.scope.admin", "vi", count="1") == t(
        "digest.scope.admin", "vi", count="2"
    ).replace("2", "1")
    assert not any(
        spec and "|" in spec
        for text in catalog("vi").values()
        for _, _, spec, _ in string.Formatter().parse(text)
    )
