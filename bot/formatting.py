"""Re-export shim: numbers, dates and level names by language live in `storage.i18n.formatting`."""

from storage.i18n.formatting import (
    DASH,
    ONE_DECIMAL,
    Labelled,
    date_text,
    date_vi,
    level_label,
    levels_phrase,
    number,
    percent,
    percent_value,
)

__all__ = [
    "DASH",
    "ONE_DECIMAL",
    "Labelled",
    "date_text",
    "date_vi",
    "level_label",
    "levels_phrase",
    "number",
    "percent",
    "percent_value",
]
