"""Reaching into a turn's read from a test, on either engine: on SQLite the turn reads with
`storage.turn_read.read_turn`; on PostgreSQL the update's claim and the read are one statement,
`claim_and_read`. A test that slows down or breaks the read must patch both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.core import turn

Read = Callable[..., Awaitable[Any]]
Around = Callable[[Read, dict[str, Any]], Awaitable[Any]]


def around_turn_read(monkeypatch: pytest.MonkeyPatch, around: Around) -> None:
    """Every turn's read becomes `around(real read, its keyword arguments)`."""
    for name in ("read_turn", "claim_and_read"):
        monkeypatch.setattr(turn, name, _patched(getattr(turn, name), around))


def _patched(real: Read, around: Around) -> Read:
    async def patched(**kwargs: Any) -> Any:
        return await around(real, kwargs)

    return patched
