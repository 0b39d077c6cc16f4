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


async def test_take_paces_a_central_pacer_and_keeps_the_grid() -> None:
    vt = VirtualTime()
    limiter = _limiter(vt)
    assert limiter.take("1") == 0.0
    assert (limiter.next_global(), limiter.chat_ready_at("1")) == (0.04, 1.0)
    assert limiter.chat_ready_at("2") == 0.0  # a chat never seen is ready
    # The pacer woke 10 ms late for the next slot: the slot after stays on the 40 ms grid.
    vt.now = 0.05
    assert limiter.take("2") == 0.05
    assert abs(limiter.next_global() - 0.08) < 1e-9
    # Idle for a while: the grid restarts from now, no burst to catch up.
    vt.now = 10.0
    limiter.take("3")
    assert abs(limiter.next_global() - 10.04) < 1e-9
    assert limiter.chat_ready_at("-100") == 0.0
    limiter.take("-100")
    assert limiter.chat_ready_at("-100") == 10.04 + 3.0  # groups: 20 per minute


async def test_a_pacer_on_take_serves_a_long_chat_queue_alongside_the_rest() -> None:
    # What the sender does with the limiter: at each global slot, of the ready chats, the one
    # with the most messages left. 3,000 chats with one message and one chat with 30 take
    # max(3029 / 25, 29) s, not 3000 / 25 + 29.
    vt = VirtualTime()
    limiter = _limiter(vt)
    left = {str(i): 1 for i in range(3000)} | {"long": 30}
    times: list[float] = []

    async def pacer() -> None:
        while left:
            now = vt()
            ready = [c for c in left if limiter.chat_ready_at(c) <= now]
            slot = limiter.next_global()
            if not ready or slot > now:
                soonest = min(limiter.chat_ready_at(c) for c in left)
                await vt.sleep(max(slot, soonest if not ready else now) - now)
                continue
            chat = max(ready, key=lambda c: left[c])
            times.append(limiter.take(chat))
            left[chat] -= 1
            if not left[chat]:
                del left[chat]

    await vt.run(pacer())
    assert len(times) == 3030
    assert 121.0 <= times[-1] <= 121.3
    assert _worst(times) <= 25


def _worst(times: list[float]) -> int:
    ordered = sorted(times)
    return max(bisect_left(ordered, t + 1.0 - 1e-9) - i for i, t in enumerate(ordered))
