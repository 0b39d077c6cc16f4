"""The Telegram adapter: a python-telegram-bot `Update` becomes an `Inbound`, the turn runner
(`bot.core.turn.run_turn`) does the rest, and the stored replies go out through the Bot API.

Replies are rendered by `bot.telegram.render` (HTML, 4,096-character parts, an inline keyboard
on the last part) and stored as `{"chat_id", "text", "reply_markup"}`. A reply that fails after
the commit goes to the outbox as an HTML `OutgoingMessage` with the same buttons (`outgoing`);
a workbook that could not be uploaded becomes a sentence asking to send /xuat again. Answering
a pressed button is best effort: an old query, a network error never stops the messages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.core.io import FileOut, Inbound, Outcome, ReplyLike
from bot.core.turn import Output, Unsaid
from bot.telegram.channel import TelegramChannel, mapped
from bot.telegram.files import media_of
from bot.telegram.menus import set_chat_menu
from bot.telegram.render import render_all
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.models import CHANNEL_TELEGRAM
from storage.names import name_from_chat

log = logging.getLogger(__name__)


def inbound_of(update: Update) -> Inbound | None:
    """The update as the core sees it (None: no user or chat, nothing to answer)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    common: dict[str, Any] = {
        "channel": CHANNEL_TELEGRAM,
        "key": str(update.update_id),
        "user_id": str(user.id),
        "chat_id": str(chat.id),
        "display_name": name_from_chat(user.first_name, user.last_name),
        "language_code": user.language_code,
    }
    query = update.callback_query
    if query is not None:
        return Inbound(kind="press", data=query.data or "", **common)
    message = update.effective_message
    text = message.text if message is not None and message.text is not None else None
    if text is None:  # a photo or document is evidence (`bot.core.commands.evidence`)
        return Inbound(kind="other", media=media_of(message), **common)
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        head, *args = stripped[1:].split()
        command = head.split("@")[0].lower()
        return Inbound(kind="command", command=command, args=tuple(args), text=text, **common)
    return Inbound(kind="text", text=text, **common)


class TelegramAdapter:
    """`bot.core.turn.Adapter` for one Telegram update."""

    channel = CHANNEL_TELEGRAM

    def __init__(self, bot: Bot, update: Update) -> None:
        self.bot = bot
        self.update = update

    def render(self, chat_id: str, replies: Sequence[ReplyLike], lang: str) -> list[dict[str, Any]]:
        stored = []
        for message in render_all(replies):
            entry: dict[str, Any] = {"chat_id": int(chat_id), "text": message.text}
            if message.markup is not None:
                entry["reply_markup"] = message.markup.to_dict()
            stored.append(entry)
        return stored

    async def send(self, message: dict[str, Any]) -> None:
        markup = message.get("reply_markup")
        await mapped(
            lambda: self.bot.send_message(
                chat_id=message["chat_id"],
                text=message["text"],
                reply_markup=InlineKeyboardMarkup.de_json(markup, self.bot) if markup else None,
            )
        )

    async def send_output(
        self, chat_id: str, output: Output, *, person_id: int | None, lang: str, now: datetime
    ) -> None:
        if isinstance(output, OutgoingMessage):
            await TelegramChannel(self.bot).send(chat_id, output)
            return
        assert isinstance(output, FileOut)
        import html

        await mapped(
            lambda: self.bot.send_document(
                chat_id=chat_id,
                document=output.data,
                filename=output.filename,
                caption=html.escape(output.caption, quote=False),
            )
        )

    async def outgoing(
        self, chat_id: str, output: Unsaid, *, person_id: int | None, lang: str, now: datetime
    ) -> OutgoingMessage | None:
        if isinstance(output, dict):
            markup = output.get("reply_markup") or {}
            choices = [
                (str(button["text"]), str(button["callback_data"]))
                for row in markup.get("inline_keyboard", [])
                for button in row
                if "callback_data" in button
            ]
            return OutgoingMessage(text=str(output["text"]), choices=choices, html=True)
        if isinstance(output, FileOut):  # the outbox carries no files
            return OutgoingMessage(text=t("admin.export.failed", lang))
        return output

    async def acknowledge(self, inbound: Inbound, outcome: Outcome) -> None:
        query = self.update.callback_query
        if query is None:
            return
        try:
            await query.answer(outcome.answer or None)
        except TelegramError as exc:  # too old, already answered, network: the messages go on
            log.info("callback query not answered: %s", type(exc).__name__)
        if outcome.clear_keyboard and query.message is not None:
            try:
                await query.edit_message_reply_markup(reply_markup=None)
            except TelegramError as exc:  # already without keyboard, or too old to edit
                log.debug("keyboard not removed: %s", type(exc).__name__)

    async def finish(self, inbound: Inbound, outcome: Outcome, lang: str) -> None:
        if outcome.menu is None:
            return
        try:
            await set_chat_menu(self.bot, chat_id=inbound.chat_id, scope=outcome.menu, lang=lang)
        except TelegramError as exc:
            log.warning("chat menu not set: %s", type(exc).__name__)
