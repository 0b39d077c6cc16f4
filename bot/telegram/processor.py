"""Concurrent update processing that keeps each person's updates in order.

python-telegram-bot processes one update at a time unless the application has an update
processor allowing more. `PerChatUpdateProcessor` runs up to `max_concurrent_updates` updates
at once, but never two of the same user (or, for an update without a user, the same chat) at
once, and each user's updates in the order they arrived: a reporter typing two answers quickly
gets them applied in that order, as the conversation engine expects.

How the order is kept: the application starts one task per update in arrival order; each task
passes the library's semaphore (FIFO) and enters `do_process_update`, which joins its key's
queue (an `asyncio.Lock`, FIFO) before its first `await`. An update waiting for an earlier
update of the same person holds one of the N slots meanwhile; the earliest update of every
person holds a slot and runs, so nothing can wait forever.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


@dataclass
class _Queue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: int = 0  # updates of this key inside do_process_update


def ordering_key(update: object) -> Hashable | None:
    """Whose updates must not overlap: the user's (their draft is one per person), else the
    chat's; None (no constraint) for anything else."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Up to `max_concurrent_updates` updates at once; one at a time per user, in arrival
    order."""

    __slots__ = ("_queues",)

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._queues: dict[Hashable, _Queue] = {}

    @property
    def waiting_keys(self) -> int:
        """How many users/chats have an update in progress (for tests and logs)."""
        return len(self._queues)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = ordering_key(update)
        if key is None:
            await coroutine
            return
        # No await between here and lock.acquire(): the queue order is the arrival order.
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        queue.pending += 1
        try:
            try:
                await queue.lock.acquire()
            except BaseException:
                if inspect.iscoroutine(coroutine):
                    coroutine.close()  # never started: no "was never awaited" warning
                raise
            try:
                await coroutine
            finally:
                queue.lock.release()
        finally:
            queue.pending -= 1
            if queue.pending == 0:
                del self._queues[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
