"""Long polling: getUpdates in a loop, each update handed to the adapter in order, until `stop`.
Polling and webhook cannot be used together, so the loop first removes any webhook. Network
trouble backs off (1 s doubling to 60 s); a 429 waits as told."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from bot.zalo.client import POLL_TIMEOUT, ZaloClient
from bot.zalo.webhook import Processor
from scheduler.channels import ChannelError, RetryAfter

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def poll(
    client: ZaloClient,
    processor: Processor,
    stop: asyncio.Event,
    *,
    poll_seconds: int = POLL_TIMEOUT,
) -> None:
    try:
        await client.delete_webhook()
    except ChannelError as exc:
        log.warning("zalo deleteWebhook failed (%s); polling anyway", type(exc).__name__)
    log.info("zalo long polling started")
    backoff = BACKOFF_FIRST
    stopper = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            fetch = asyncio.create_task(client.get_updates(poll_seconds))
            await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                fetch.cancel()
                with suppress(asyncio.CancelledError, ChannelError):
                    await fetch
                break
            try:
                updates = fetch.result()
            except RetryAfter as exc:
                await _pause(stop, exc.seconds)
                continue
            except ChannelError as exc:
                log.warning("zalo getUpdates failed: %s; retry in %.0f s", exc, backoff)
                await _pause(stop, backoff)
                backoff = min(backoff * 2, BACKOFF_CAP)
                continue
            backoff = BACKOFF_FIRST
            for update in updates:
                await processor.process(update)
    finally:
        stopper.cancel()
        with suppress(asyncio.CancelledError):
            await stopper
    log.info("zalo long polling stopped")
