"""Channel adapters (Telegram, Zalo). The outbound protocol is `scheduler.channels` (re-exported,
with `storage.messages.OutgoingMessage`, by the shim `bot.channels.base`)."""
