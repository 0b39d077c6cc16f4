"""Free text from the web console's forms, through the one cleaner of text entering the database
(`storage.text_clean.clean`): control and format characters removed, NFC, surrounding spaces
stripped; a NUL (which the cleaner refuses) or a value longer than the field allows is a
`FieldProblem`, which the form shows back in the reader's language with nothing written."""

from __future__ import annotations

from starlette.datastructures import FormData

from storage.i18n import t
from storage.text_clean import BadText, clean, has_control


class FieldProblem(ValueError):
    """`key` is "bad_text" (refused by the cleaner) or "too_long" (over `limit` characters)."""

    def __init__(self, key: str, limit: int) -> None:
        super().__init__(key)
        self.key = key
        self.limit = limit

    def message(self, lang: str, field: str) -> str:
        return t(f"web.form.{self.key}", lang, field=field, limit=self.limit)


def clean_value(value: object, *, limit: int, strict: bool = False) -> str:
    """`value` cleaned and stripped, at most `limit` characters; FieldProblem otherwise.
    `strict`: a control character is refused rather than removed (as a campaign file is)."""
    if not isinstance(value, str) or (strict and has_control(value)):  # or a file
        raise FieldProblem("bad_text", limit)
    try:
        text = clean(value).strip()
    except BadText:
        raise FieldProblem("bad_text", limit) from None
    if len(text) > limit:
        raise FieldProblem("too_long", limit)
    return text


def field_text(form: FormData, name: str, *, limit: int) -> str:
    """The form's field `name` (missing: empty) through `clean_value`."""
    return clean_value(form.get(name, ""), limit=limit)
