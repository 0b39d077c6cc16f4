"""What the Zalo server keeps for a short while for Zalo to fetch (digest charts, workbooks):
at most `limit` entries under unguessable ids, each until its `expires` on the store's clock;
when full, the oldest goes first."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Expiring(Protocol):
    @property
    def expires(self) -> float: ...


T = TypeVar("T", bound=Expiring)


class Kept(Generic[T]):
    def __init__(self, limit: int, now: Callable[[], float]) -> None:
        self.limit = limit
        self.now = now
        self._items: dict[str, T] = {}

    def add(self, item: T) -> str:
        """Keep `item`; returns its new id (24 hex digits)."""
        self._expire()
        while len(self._items) >= self.limit:
            self._items.pop(next(iter(self._items)))
        ident = secrets.token_hex(12)
        self._items[ident] = item
        return ident

    def get(self, ident: str) -> T | None:
        """The item, unless it expired or never was."""
        self._expire()
        return self._items.get(ident)

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self) -> None:
        now = self.now()
        for ident in [i for i, item in self._items.items() if item.expires <= now]:
            del self._items[ident]
