"""Long polling that confirms an update to Telegram only after it has been processed.

python-telegram-bot's `Updater.start_polling` advances the getUpdates offset (which confirms the
updates to Telegram, who then forgets them) as soon as they are queued, before any handler ran:
a kill in between lost them. `run_polling` instead:

1. calls deleteWebhook (a webhook left set would make getUpdates fail);
2. long-polls `getUpdates(offset, timeout, allowed_updates)`;
3. processes the batch through the application's update processor (`processing.process`: up to
   CADREBOT_CONCURRENT_UPDATES at once, one person's updates in arrival order) and waits until
   every update of it is processed;
4. only then moves the offset past the batch (the next getUpdates confirms it).

A kill during step 3 leaves the batch unconfirmed: the next process gets it again, and the
updates that had committed are replays (their `processed_update` row, `bot.core.turn`): not
processed again, their stored replies re-sent, so each is processed once and answered at least
once. A handler that fails is not retried here: the error handler has apologised ("please send
it again") and the person resends.

Safeguard: a batch still running after `process_timeout` (50 s) is confirmed anyway and left to
finish in the background, so one stuck handler cannot stop everyone else's messages; only a kill
in those extra seconds can then lose that update.

Network errors and Telegram's 5xx back off (1 s doubling to 30 s), RetryAfter waits as told,
Conflict (another getUpdates consumer) backs off; InvalidToken ends the loop with the error.
Setting `stop` ends the loop cleanly: the running batch finishes, then one last getUpdates with
timeout 0 confirms it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError

from bot.telegram.processing import TelegramApp, process, watch_failures

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_TIMEOUT = 10  # seconds getUpdates waits for an update (long polling)
PROCESS_TIMEOUT = 50.0  # seconds a batch may take before it is confirmed anyway
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


class _Stopped(Exception):
    """`stop` was set while waiting."""


async def _until(stop: asyncio.Event, awaitable: Awaitable[T]) -> T:
    """`awaitable`'s result, or _Stopped (the awaitable cancelled) once `stop` is set."""
    work = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([work, waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
    if work.cancelled():
        raise _Stopped
    return work.result()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return


async def _call(stop: asyncio.Event, call: Callable[[], Awaitable[T]]) -> T:
    """`call()` retried on network errors, RetryAfter and Conflict until it succeeds; _Stopped
    once `stop` is set; InvalidToken and the other Telegram errors are raised."""
    backoff = BACKOFF_FIRST
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return await _until(stop, call())
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            log.warning("Telegram asks to wait %.0f s before getUpdates", seconds)
            await _sleep(stop, seconds)
        except InvalidToken:
            raise
        except TelegramError as exc:  # NetworkError, TimedOut, Conflict, 5xx (NetworkError)
            log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)


def _current_cancelling() -> bool:
    """True if this task itself is being cancelled (not just the inner call by `_until`)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def process_batch(
    application: TelegramApp, updates: Sequence[Update], within: float = PROCESS_TIMEOUT
) -> bool:
    """Process `updates` (in order into the update processor) and wait for all of them; False
    if some were still running after `within` seconds (they go on in the background). Cancelling
    this cancels the unfinished ones (their transactions roll back)."""
    tasks = [asyncio.ensure_future(process(application, update)) for update in updates]
    together = asyncio.gather(*tasks)
    try:
        await asyncio.wait_for(asyncio.shield(together), within)
    except TimeoutError:
        late = [u.update_id for u, t in zip(updates, tasks, strict=True) if not t.done()]
        log.warning("updates %s still processing after %.0f s; confirmed anyway", late, within)
        together.add_done_callback(_log_late)
        return False
    except asyncio.CancelledError:
        together.cancel()
        await asyncio.gather(together, return_exceptions=True)
        raise
    return True


def _log_late(together: asyncio.Future[Any]) -> None:
    if not together.cancelled() and together.exception() is not None:
        log.error("a late update failed", exc_info=together.exception())


async def run_polling(
    application: TelegramApp,
    stop: asyncio.Event,
    *,
    poll_timeout: int = POLL_TIMEOUT,
    process_timeout: float = PROCESS_TIMEOUT,
    allowed_updates: Sequence[str] = Update.ALL_TYPES,
) -> None:
    """Receive and process updates until `stop` is set (see the module docstring). The
    application must be initialised."""
    watch_failures(application)
    bot = application.bot
    try:
        await _call(stop, lambda: bot.delete_webhook())
    except _Stopped:
        return
    offset: int | None = None
    try:
        while True:
            try:
                updates = await _call(
                    stop,
                    partial(
                        bot.get_updates,
                        offset=offset,
                        timeout=poll_timeout,
                        allowed_updates=allowed_updates,
                    ),
                )
            except _Stopped:
                return
            if not updates:
                continue
            # Not interrupted by `stop`: a batch is finished (or timed out) before stopping.
            await process_batch(application, updates, process_timeout)
            offset = updates[-1].update_id + 1
    finally:
        if offset is not None and not _current_cancelling():
            await _confirm(application, offset, allowed_updates)


async def _confirm(application: TelegramApp, offset: int, allowed_updates: Sequence[str]) -> None:
    """One getUpdates without waiting: Telegram forgets the processed updates before `offset`
    (otherwise the next start gets them again, and ignores them as replays)."""
    try:
        await asyncio.wait_for(
            application.bot.get_updates(offset=offset, timeout=0, allowed_updates=allowed_updates),
            10,
        )
    except (TelegramError, TimeoutError) as exc:
        log.warning("processed updates not confirmed on stop (%s)", type(exc).__name__)
