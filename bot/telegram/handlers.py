"""Which Telegram update goes where; the one error handler.

Only what is Telegram's own is decided here (group 0, first match wins):
- edited messages: ignored, nothing changes, no answer (an answer already given stands);
- anything in a group, supergroup or channel: a command gets one short "write to me privately"
  answer; everything else is ignored (the bot never discusses units or figures in a group);
- everything in a private chat and every button press: one turn (`bot.core.turn.run_turn`
  through `bot.telegram.adapter`), where the command layer decides (`bot.core.dispatch`).
"""

from __future__ import annotations

import contextlib
import logging
import traceback

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.core.turn import Runtime, current, run_turn
from bot.telegram.adapter import TelegramAdapter, inbound_of
from storage.db import DatabaseBusy
from storage.i18n import pick_language, t

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
NOT_PRIVATE = ~filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


def runtime_of(context: Context) -> Runtime:
    runtime = context.bot_data["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


async def on_update(update: Update, context: Context) -> None:
    """A private message or a button press: one turn."""
    inbound = inbound_of(update)
    if inbound is None:
        return
    await run_turn(runtime_of(context), TelegramAdapter(context.bot, update), inbound)


async def ignore(update: Update, context: Context) -> None:
    """Edited messages: nothing happens (the first version was already handled)."""
    log.debug("update %s ignored (edited message)", update.update_id)


async def group_answer(update: Update, context: Context) -> None:
    """A command in a group: one short answer, no data read, nothing written."""
    message = update.effective_message
    if message is None:
        return
    user = update.effective_user
    runtime = runtime_of(context)
    lang = pick_language(user.language_code if user else None, runtime.settings.language)
    await message.reply_text(t("telegram.group", lang))


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        MessageHandler(filters.UpdateType.EDITED, ignore),
        MessageHandler(NOT_PRIVATE & filters.COMMAND, group_answer),
        MessageHandler(NOT_PRIVATE, ignore),
        MessageHandler(PRIVATE, on_update),
        CallbackQueryHandler(on_update),
    ]


async def on_error(update: object, context: Context) -> None:
    """Log what failed (update id, user id, command, the exception's type and frames: never
    the message text, the exception's message or the token) and apologise in the chat (a turn
    that fails rolls back: nothing was saved, the person may send it again)."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    user = update.effective_user if isinstance(update, Update) else None
    chat = update.effective_chat if isinstance(update, Update) else None
    turn = current.get()
    if turn is not None and turn.key != str(update_id):
        turn = None
    frames = "".join(traceback.format_tb(error.__traceback__)) if error is not None else ""
    log.error(
        "update %s from user %s failed in handler %s: %s\n%s",
        update_id,
        user.id if user else None,
        turn.command if turn else "?",
        type(error).__name__,
        frames,
    )
    if not isinstance(update, Update) or chat is None or chat.type != chat.PRIVATE:
        return
    lang = (
        turn.lang
        if turn is not None
        else pick_language(
            user.language_code if user else None, runtime_of(context).settings.language
        )
    )
    try:
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # an old query: the apology still goes out
                await update.callback_query.answer()
        key = "db.busy" if isinstance(error, DatabaseBusy) else "telegram.error"
        await context.bot.send_message(chat_id=chat.id, text=t(key, lang))
    except TelegramError as exc:
        log.warning("could not apologise for update %s: %s", update_id, type(exc).__name__)


def register(application: Application) -> None:
    application.add_handlers(handlers(), group=0)
    application.add_error_handler(on_error)
