"""The Telegram adapter (python-telegram-bot): handlers, rendering, the outbox channel, menus.

The composition root is `bot.app.build_application`."""
