"""A sheet's columns: headers matched to field keys (accents, case and punctuation aside),
the repeated label row of the template, and the template's rows nobody filled in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from storage.forms import Form
from storage.report_import.tables import (
    IGNORED,
    REPORTED_ON,
    SPECIAL_HEADERS,
    cell_text,
    norm,
)


def columns_of(
    header: Sequence[object], forms: Sequence[Form]
) -> tuple[list[str | None], list[str]]:
    """Column index -> canonical key (None: empty header), and the headers not recognised."""
    names: dict[str, str] = {}
    for key, aliases in SPECIAL_HEADERS.items():
        for alias in aliases:
            names[norm(alias)] = key
    for form in forms:
        for item in form.fields:
            for alias in (item.key, item.label_vi, item.label_en):
                names.setdefault(norm(alias), item.key)
    keys: list[str | None] = []
    unknown: list[str] = []
    for cell in header:
        name = norm(cell)
        if not name:
            keys.append(None)
        elif name in names:
            keys.append(None if names[name] == IGNORED else names[name])
        else:
            keys.append(None)
            unknown.append(cell_text(cell))
    return keys, unknown


def is_label_row(
    cells: Sequence[object], keys: Sequence[str | None], forms: Sequence[Form]
) -> bool:
    labels: dict[str, set[str]] = {
        k: {norm(a) for a in aliases} for k, aliases in SPECIAL_HEADERS.items()
    }
    for form in forms:
        for item in form.fields:
            labels.setdefault(item.key, set()).update(
                {norm(item.key), norm(item.label_vi), norm(item.label_en)}
            )
    filled = False
    for cell, key in zip(cells, keys, strict=False):
        name = norm(cell)
        if not name:
            continue
        if key is None:  # a column not read (STT, Ghi chú): its label says nothing
            continue
        filled = True
        if name not in labels.get(key, set()):
            return False
    return filled


def asked_keys(form: Form) -> tuple[str, ...]:
    """The columns a person fills in (not the code, name or members the template writes)."""
    return (*(f.key for f in form.fields if f.default_from is None), REPORTED_ON)


def not_filled_in(asked: Sequence[str], texts: Mapping[str, str]) -> bool:
    """Nothing written in the `asked_keys` columns; `texts`: the row's cells as `cell_text`
    reads them, by column key."""
    return not any(texts.get(key) for key in asked)
