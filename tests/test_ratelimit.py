"""The rate limiter in virtual time: per-chat spacing, the global rate, cool-downs."""

from __future__ import annotations

import asyncio
import itertools
from bisect import bisect_left

from scheduler.ratelimit import RateLimiter, is_group_chat
from tests.sched_fixtures import VirtualTime


def _limiter(vt: VirtualTime, rate: float = 25.0) -> RateLimiter:
    return RateLimiter(rate=rate, clock=vt, sleep=vt.sleep)


async def _send_all(vt: VirtualTime, limiter: RateLimiter, chats: list[str]) -> list[float]:
    """Acquire once per entry (one task per chat, each chat in order); the virtual grant times."""
    by_chat: dict[str, int] = {}
    for chat in chats:
        by_chat[chat] = by_chat.get(chat, 0) + 1
    times: list[float] = []

    async def chat_task(chat: str, count: int) -> None:
        for _ in range(count):
            await limiter.acquire(chat)
            times.append(vt())

    async def everything() -> None:
        await asyncio.gather(*(chat_task(c, n) for c, n in by_chat.items()))

    await vt.run(everything())
    return sorted(times)


async def test_one_private_chat_gets_one_message_per_second() -> None:
    vt = VirtualTime()
    times = await _send_all(vt, _limiter(vt), ["42"] * 100)
    assert len(times) == 100
    assert times[-1] - times[0] >= 99
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0 - 1e-9


async def test_three_thousand_chats_at_25_per_second_take_about_120_seconds() -> None:
    vt = VirtualTime()
    times = await _send_all(vt, _limiter(vt), [str(1000 + i) for i in range(3000)])
    assert len(times) == 3000
    assert 119 <= times[-1] <= 121
    # Never more than 25 in any one-second window.
    worst = max(bisect_left(times, t + 1.0 - 1e-9) - i for i, t in enumerate(times))
    assert worst <= 25


async def test_group_chats_get_twenty_per_minute() -> None:
    vt = VirtualTime()
    assert is_group_chat("-100123") and not is_group_chat("123")
    times = await _send_all(vt, _limiter(vt), ["-100123"] * 21)
    assert times[-1] - times[0] >= 60


async def test_a_slow_chat_does_not_hold_back_the_others() -> None:
    vt = VirtualTime()
    times_by_chat: dict[str, list[float]] = {}
    limiter = _limiter(vt)

    async def one(chat: str, count: int) -> None:
        for _ in range(count):
            await limiter.acquire(chat)
            times_by_chat.setdefault(chat, []).append(vt())

    async def everything() -> None:
        await asyncio.gather(one("slow", 30), *(one(str(i), 1) for i in range(50)))

    await vt.run(everything())
    others = [t for chat, ts in times_by_chat.items() if chat != "slow" for t in ts]
    assert max(others) <= 3.0  # 51 first messages at 25/s, not 50 x 1 s
    assert times_by_chat["slow"][-1] >= 29


async def test_cool_down_after_retry_after() -> None:
    vt = VirtualTime()
    limiter = _limiter(vt)

    async def scenario() -> tuple[float, float, float]:
        first = await limiter.acquire("7")
        limiter.cool_down("7", 30)
        second = await limiter.acquire("7")
        other = await limiter.acquire("8")
        return first, second, other

    first, second, other = await vt.run(scenario())
    assert first == 0
    assert second >= 30
    assert other < second + 1  # other chats are not held back by one chat's cool-down


async def test_pause_all() -> None:
    vt = VirtualTime()
    limiter = _limiter(vt)

    async def scenario() -> float:
        limiter.pause_all(10)
        return await limiter.acquire("1")

    assert await vt.run(scenario()) >= 10
