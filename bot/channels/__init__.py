"""What the channel adapters share beyond the turn: how a table is written for each platform
(`tables`). The outbound protocol (`Channel`, `RetryAfter`, `Unreachable`, `TransientError`) is
`scheduler.channels`; the message itself is `storage.messages.OutgoingMessage`."""
