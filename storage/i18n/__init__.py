"""The message catalog: gettext `.po` files read with Babel, one set per language.

Message ids are symbolic keys (`form.error.not_a_number`); every language, Vietnamese first,
translates all of them. Every `*.po` file under `storage/i18n/<lang>/` is merged, so each area of
the product keeps its own file. Placeholders use `str.format` syntax: `{count}`.

Plurals: a noun that agrees with a count is written as that count's field with the singular and
the plural as its format spec, `{count} {count:unit|units}` ("1 unit", "2 units", "1,234 units");
`t` picks the form by the language's CLDR plural rule (Babel) applied to the number as the reader
sees it (`1` is singular, `1.0` or `0` plural in English). Vietnamese has no plural and never
uses the spec.

A leaf of the package chain: it imports nothing else of the project, so storage, the scheduler and
the bot all render texts from the same catalog (`storage.i18n.formatting` writes numbers and dates
in the reader's language).
"""

from __future__ import annotations

import string
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import parse_decimal

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
_ROOT = Path(__file__).resolve().parent


class MissingMessage(KeyError):
    pass


@cache
def catalog(lang: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    for po in sorted((_ROOT / lang).glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if message.id and message.string:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    text = message.string if isinstance(message.string, str) else message.string[0]
                    messages[key] = text
    return messages


@cache
def _plural_keys(lang: str) -> frozenset[str]:
    """The keys of `lang` whose text has a plural field (`{count:unit|units}`)."""
    return frozenset(
        key
        for key, text in catalog(lang).items()
        if any(spec and "|" in spec for _, _, spec, _ in string.Formatter().parse(text))
    )


class _PluralFormatter(string.Formatter):
    """`str.format` where a field whose spec is `singular|plural` is the form its value needs."""

    def __init__(self, lang: str) -> None:
        self.locale = Locale.parse(lang)

    def format_field(self, value: Any, format_spec: str) -> str:
        if "|" not in format_spec:
            return super().format_field(value, format_spec)
        one, other = format_spec.split("|", 1)
        return one if self._category(value) == "one" else other

    def _category(self, value: object) -> str:
        if isinstance(value, str):  # a number as written for the reader: `1`, `1,234`
            try:
                value = parse_decimal(value, locale=self.locale)
            except (InvalidOperation, ValueError):
                return "other"
        if not isinstance(value, int | Decimal):
            return "other"
        return str(self.locale.plural_form(value))


@cache
def _formatter(lang: str) -> _PluralFormatter:
    return _PluralFormatter(lang)


def pick_language(*candidates: str | None) -> str:
    """The first supported language among the person's setting, the client's language code..."""
    for candidate in candidates:
        if candidate:
            short = candidate.split("-")[0].split("_")[0].lower()
            if short in LANGUAGES:
                return short
    return DEFAULT_LANGUAGE


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: object) -> str:
    """Translate `key` into `lang` (falling back to Vietnamese) and fill in the placeholders."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalog(lang).get(key)
    if text is None:
        lang = DEFAULT_LANGUAGE
        text = catalog(lang).get(key)
    if text is None:
        raise MissingMessage(key)
    if not params:
        return text
    if key in _plural_keys(lang):
        return _formatter(lang).format(text, **params)
    return text.format(**params)
