"""Processing one Telegram update to the end, for the receivers that confirm an update to Telegram
only once it has been handled (`bot.telegram.polling`, `bot.telegram.webhook`).

python-telegram-bot's own receivers put an update in `application.update_queue` and confirm it
at once (the next getUpdates offset, the webhook's 200): a kill before the handler commits loses
the update and the person gets silence. `process` instead runs the update through the
application's update processor — the concurrency limit and the per-person order of
`bot.telegram.processor.PerChatUpdateProcessor` — and returns only when the handler has finished:
its transaction committed and its replies sent. A replay of a processed update is harmless
(`processed_update`, `bot.core.turn`: the handler does not run again; the replies stored with the
update are re-sent), so "confirm after processing" is at-least-once delivery with exactly-once
effects.

A handler that raises is caught by python-telegram-bot, which calls the error handlers (ours
logs and apologises); `watch_failures` adds one more error handler that marks the update being
processed in this task as failed, so `process` can return False.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext

from storage.db import bounded_writes

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


@dataclass
class _Attempt:
    failed: bool = False


_attempt: ContextVar[_Attempt | None] = ContextVar("cadrebot_telegram_attempt", default=None)


async def _mark_failed(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
    """Error handler: the update `process` is running in this task failed. Error handlers run
    in the task that processes the update (they are blocking), so the context variable set by
    `process` is visible here; an error from anywhere else (a job) finds None."""
    attempt = _attempt.get()
    if attempt is not None:
        attempt.failed = True


def watch_failures(application: TelegramApp) -> None:
    """Register the error handler `process` relies on (once; after the application's own)."""
    if _mark_failed not in application.error_handlers:
        application.add_error_handler(_mark_failed)


async def process(application: TelegramApp, update: object) -> bool:
    """Process `update` through the application's update processor; True once its handler
    finished without raising, False if a handler raised (its transaction rolled back).
    `watch_failures(application)` must have been called. A database locked by another process
    is waited for at most `storage.db.TURN_WRITE_WAIT` (then the person is told to try again)."""
    attempt = _Attempt()
    token = _attempt.set(attempt)
    coroutine = application.process_update(update)
    try:
        with bounded_writes():
            await application.update_processor.process_update(update, coroutine)
    except BaseException:
        coroutine.close()  # cancelled before it started: no "never awaited" warning
        raise
    finally:
        _attempt.reset(token)
    return not attempt.failed
