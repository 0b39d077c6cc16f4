"""What every channel adapter (Telegram, Zalo) offers the sender, and the errors it may raise.

The sender (scheduler/sender.py) delivers through this protocol; the adapters in bot/ implement
it. An adapter turns its platform's failures into exactly one of three exceptions, so the sender
can decide without knowing the platform: `RetryAfter` (the platform said when to try again),
`Unreachable` (the person blocked the bot, never started it, or the chat is gone: retrying will not
help) and `TransientError` (network trouble, a 5xx: retry with back-off).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from storage.messages import OutgoingMessage


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str


class ChannelError(Exception):
    """Base of the three outcomes an adapter may raise instead of returning a SendResult."""


class RetryAfter(ChannelError):
    """The platform asked us to wait `seconds` before sending to this chat again (HTTP 429)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = float(seconds)


class Unreachable(ChannelError):
    """The person cannot receive messages: blocked the bot (403), never started it, no such chat."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(ChannelError):
    """Worth retrying later: network error, timeout, 5xx."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Channel(Protocol):
    """A channel adapter as the sender sees it. `name` matches `ChatIdentity.channel`."""

    name: str

    async def send(self, chat_id: str, message: OutgoingMessage) -> SendResult: ...
