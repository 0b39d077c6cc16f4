"""Channel adapters (Telegram, Zalo) behind one small interface, see `bot.channels.base`."""

from bot.channels.base import (
    Channel,
    ChannelError,
    OutgoingMessage,
    PayloadError,
    RetryAfter,
    SendResult,
    TransientError,
    Unreachable,
)

__all__ = [
    "Channel",
    "ChannelError",
    "OutgoingMessage",
    "PayloadError",
    "RetryAfter",
    "SendResult",
    "TransientError",
    "Unreachable",
]
