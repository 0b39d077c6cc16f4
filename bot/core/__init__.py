"""The channel-agnostic core of the bot: one turn runner (`bot.core.turn`) and one command layer
(`bot.core.commands`) for every channel. A channel (Telegram, Zalo, ...) is an adapter: it turns
its platform's updates into an `Inbound` and delivers the stored replies of a turn through its
platform's calls (`bot.core.turn.Adapter`)."""
