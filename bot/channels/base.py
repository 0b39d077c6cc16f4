"""Re-export shim: the outgoing message lives in `storage.messages`, the channel protocol and its
errors in `scheduler.channels` (the package chain is storage <- scheduler <- bot)."""

from scheduler.channels import (
    Channel,
    ChannelError,
    RetryAfter,
    SendResult,
    TransientError,
    Unreachable,
)
from storage.messages import OutgoingMessage, PayloadError

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
