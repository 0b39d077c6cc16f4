"""Large JSON columns (a deliverable's form, a campaign's definition: a few KB each) decoded
once per stored text, not on every read: a query defers the column, selects it cast to text,
and `decoded` turns that text into the value. Keyed by the exact text, so a reloaded campaign
(or another database) is decoded afresh, never served stale. The decoded values are shared by
every reader: nothing changes them in place (a new definition is a new value)."""

from __future__ import annotations

import json
from typing import Any

_DECODED: dict[str, Any] = {}
_DECODED_MAX = 256


def decoded(text: str | None) -> Any:
    """The JSON value of `text` (None for None), decoded once per distinct text."""
    if text is None:
        return None
    value = _DECODED.get(text)
    if value is None:
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        value = _DECODED[text] = json.loads(text)
    return value
