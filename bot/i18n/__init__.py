"""Re-export shim: the message catalog lives in `storage.i18n` (a leaf every package may import)."""

from storage.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    MissingMessage,
    catalog,
    pick_language,
    t,
)

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "MissingMessage", "catalog", "pick_language", "t"]
