"""Pacing for outgoing messages, within Telegram's limits.

Three rules, each a minimum spacing between sends (pacing, no bursts):
- globally at most `rate` messages per second (setting `send_rate`, default 25/s);
- at most one message per second to one private chat;
- at most `group_per_minute` (20) per minute to one group chat (negative Telegram chat ids);
plus a per-chat cool-down after the platform answered 429 retry_after.

Two ways to use it. `acquire(chat_id)` waits until the next send to that chat is allowed and
returns the moment it was granted: it first waits for the chat's own slot, then takes the next
global slot, so a slow chat never holds global slots it cannot use; calls for one chat are
serialised by a per-chat lock. A central pacer (the sender) instead asks `next_global()` and
`chat_ready_at(chat_id)`, sleeps itself, and calls `take(chat_id)` for the chat it picked.
Time is injected (`clock`, `sleep`), so tests run in virtual time. The limits are per process:
with several sender processes, give each a share of the global rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

PRIVATE_INTERVAL = 1.0
GROUP_PER_MINUTE = 20
CLEANUP_EVERY = 1024


def is_group_chat(chat_id: str) -> bool:
    """Telegram group and supergroup chat ids are negative."""
    return chat_id.startswith("-")


@dataclass(slots=True)
class _ChatState:
    next_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RateLimiter:
    def __init__(
        self,
        *,
        rate: float = 25.0,
        private_interval: float = PRIVATE_INTERVAL,
        group_per_minute: int = GROUP_PER_MINUTE,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or private_interval < 0 or group_per_minute <= 0:
            raise ValueError("rate limits must be positive")
        self.global_interval = 1.0 / rate
        self.private_interval = private_interval
        self.group_interval = 60.0 / group_per_minute
        self.clock = clock
        self.sleep = sleep
        self._global_next = 0.0
        self._chats: dict[str, _ChatState] = {}
        self._acquired = 0

    def _interval(self, chat_id: str) -> float:
        return self.group_interval if is_group_chat(chat_id) else self.private_interval

    def _state(self, chat_id: str) -> _ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            state = self._chats[chat_id] = _ChatState()
        return state

    async def _wait_until(self, moment: float) -> None:
        delay = moment - self.clock()
        if delay > 0:
            await self.sleep(delay)

    async def acquire(self, chat_id: str) -> float:
        """Wait for permission to send one message to `chat_id`; returns the granted time."""
        state = self._state(chat_id)
        async with state.lock:
            # The chat's own slot (spacing, cool-down) first ...
            await self._wait_until(state.next_at)
            # ... then the next global slot, reserved synchronously (no await in between).
            granted = max(self._global_next, self.clock())
            self._global_next = granted + self.global_interval
            await self._wait_until(granted)
            state.next_at = max(state.next_at, granted + self._interval(chat_id))
        self._count_grant()
        return granted

    def next_global(self) -> float:
        """When the next global slot opens (may be in the past: a slot is free now)."""
        return self._global_next

    def chat_ready_at(self, chat_id: str) -> float:
        """When `chat_id` may next receive a message (spacing, cool-down)."""
        state = self._chats.get(chat_id)
        return 0.0 if state is None else state.next_at

    def take(self, chat_id: str) -> float:
        """Send to `chat_id` now: the caller waited for `next_global()` and the chat's
        `chat_ready_at`. Takes the global slot and the chat's slot; returns the granted time."""
        state = self._state(chat_id)
        now = self.clock()
        granted = max(self._global_next, state.next_at, now)
        # A pacer wakes a little after the slot (timer and loop latency). Less than one interval
        # late, the next slot stays on the grid, so the lateness does not add up into a lower
        # rate; later than that (idle), the grid restarts from now: no catch-up burst.
        on_grid = now - self._global_next < self.global_interval
        self._global_next = (self._global_next if on_grid else granted) + self.global_interval
        self._global_next = max(self._global_next, granted)
        state.next_at = granted + self._interval(chat_id)
        self._count_grant()
        return granted

    def _count_grant(self) -> None:
        self._acquired += 1
        if self._acquired % CLEANUP_EVERY == 0:
            self._forget_idle()

    def cool_down(self, chat_id: str, seconds: float) -> None:
        """The platform said: nothing to this chat for `seconds`."""
        state = self._state(chat_id)
        state.next_at = max(state.next_at, self.clock() + max(seconds, 0.0))

    def pause_all(self, seconds: float) -> None:
        """Nothing to any chat for `seconds` (a bot-wide flood limit)."""
        self._global_next = max(self._global_next, self.clock() + max(seconds, 0.0))

    def _forget_idle(self) -> None:
        now = self.clock()
        idle = [
            chat
            for chat, state in self._chats.items()
            if state.next_at <= now and not state.lock.locked()
        ]
        for chat in idle:
            del self._chats[chat]
