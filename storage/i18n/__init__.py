"""The message catalog: gettext `.po` files read with Babel, one set per language.

Message ids are symbolic keys (`form.error.not_a_number`); every language, Vietnamese first,
translates all of them. Every `*.po` file under `storage/i18n/<lang>/` is merged, so each area of
the product keeps its own file. Placeholders use `str.format` syntax: `{count}`.

A leaf of the package chain: it imports nothing else of the project, so storage, the scheduler and
the bot all render texts from the same catalog (`storage.i18n.formatting` writes numbers and dates
in the reader's language).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

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
    text = catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key)
    if text is None:
        text = catalog(DEFAULT_LANGUAGE).get(key)
    if text is None:
        raise MissingMessage(key)
    return text.format(**params) if params else text
