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
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path

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


@dataclass(frozen=True)
class _Plural:
    """A message with plural fields: `text` has each `{field:one|other}` replaced by `{_pN}`,
    filled with the form its field's value needs."""

    text: str
    fields: tuple[tuple[str, str, str, str], ...]  # (generated name, field, one, other)


@cache
def _plurals(lang: str) -> dict[str, _Plural]:
    """The messages of `lang` that have a plural field (`{count:unit|units}`), by key."""
    found: dict[str, _Plural] = {}
    for key, text in catalog(lang).items():
        parts: list[str] = []
        fields: list[tuple[str, str, str, str]] = []
        for literal, name, spec, conversion in string.Formatter().parse(text):
            parts.append(literal.replace("{", "{{").replace("}", "}}"))
            if name is None:
                continue
            if spec and "|" in spec and not conversion:
                one, other = spec.split("|", 1)
                generated = f"_p{len(fields)}"
                fields.append((generated, name, one, other))
                parts.append("{" + generated + "}")
            else:
                parts.append(
                    "{"
                    + name
                    + (f"!{conversion}" if conversion else "")
                    + (f":{spec}" if spec else "")
                    + "}"
                )
        if fields:
            found[key] = _Plural("".join(parts), tuple(fields))
    return found


@lru_cache(maxsize=4096, typed=True)
def _is_one(value: object, lang: str) -> bool:
    """Whether `value` (a count, or a number as written for the reader: `1`, `1,234`) takes the
    singular in `lang` (CLDR plural category "one")."""
    if isinstance(value, str):
        try:
            value = parse_decimal(value, locale=lang)
        except (InvalidOperation, ValueError):
            return False
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return False
    return Locale.parse(lang).plural_form(value) == "one"


def _plural_text(message: _Plural, lang: str, params: dict[str, object]) -> str:
    forms = {
        generated: one if _is_one(params[field], lang) else other
        for generated, field, one, other in message.fields
    }
    return message.text.format(**params, **forms)


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
    plural = _plurals(lang).get(key)
    if plural is not None:
        return _plural_text(plural, lang, params)
    return text.format(**params)
