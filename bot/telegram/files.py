"""Files people send the bot on Telegram (a photo, a document): what the message says about
them, and their download through the configured Bot API (getFile, then the file URL under
CADREBOT_TELEGRAM_FILE_URL, python-telegram-bot's `File.download_as_bytearray`).

The size is checked twice before any byte is fetched: the message's `file_size` (in the turn,
`bot.core.commands.evidence`) and getFile's (here); the type is read from the bytes afterwards
(`storage.evidence`). Telegram's Bot API serves files of at most 20 MB."""

from __future__ import annotations

from telegram import Bot, Message
from telegram.error import TelegramError

from bot.core.io import FetchFailed, Media
from storage.evidence import EvidenceRefused

MB = 1024 * 1024


def media_of(message: Message | None) -> Media | None:
    """The photo (its largest size) or the document of a message; None for anything else."""
    if message is None:
        return None
    if message.photo:
        largest = message.photo[-1]  # Telegram lists the sizes from the smallest
        return Media(largest.file_id, largest.file_size, "image/jpeg")
    document = message.document
    if document is not None:
        return Media(document.file_id, document.file_size, document.mime_type)
    return None


class TelegramFiles:
    """`bot.core.io.Fetcher` for Telegram: a `Media.ref` is a file_id."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def __call__(self, file_id: str, limit: int) -> bytes:
        try:
            found = await self.bot.get_file(file_id)
        except TelegramError as exc:  # unknown or expired file_id, a file above 20 MB, network
            raise FetchFailed(type(exc).__name__) from exc
        if found.file_size is not None and found.file_size > limit:
            raise EvidenceRefused("evidence.too_large", limit=limit // MB)
        try:
            data = await found.download_as_bytearray()
        except (TelegramError, RuntimeError, OSError) as exc:  # RuntimeError: no file_path
            raise FetchFailed(type(exc).__name__) from exc
        return bytes(data[: limit + 1])
