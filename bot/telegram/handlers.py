"""Which update goes to which handler, and the one error handler.

Routing (group 0, first match wins):
- edited messages: ignored, nothing changes, no answer (an answer already given stands);
- anything in a group, supergroup or channel: a command gets one short "write to me privately"
  answer; everything else is ignored (the bot never discusses units or figures in a group);
- private chat: /start (strangers allowed: it is how one becomes a person), reporter commands
  (to the conversation engine), supervisor/admin commands (`bot.telegram.admin`: /xuat, /moi,
  /phancong, /dot and the /xuat campaign buttons), /trogiup, other commands (unknown),
  typed text (to the engine while a draft is open), button presses, and anything that is not
  text (stickers, photos, files: "please answer in text").

Every handler runs as one turn (see `bot.telegram.turn`): strangers get the refusal.
"""

from __future__ import annotations

import logging
import traceback

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import pick_language, t
from bot.telegram import admin, onboarding, reporting, supervision
from bot.telegram.render import Say
from bot.telegram.turn import Context, Handler, Outcome, Turn, current, runtime_of, turn_callback
from bot.zalo.preference import channel_command
from storage.db import DatabaseBusy
from storage.models import CHANNEL_TELEGRAM

log = logging.getLogger(__name__)

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
NOT_PRIVATE = ~filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE

# Vietnamese command, English alias, handler.
SUPERVISION: tuple[tuple[str, str, Handler], ...] = (
    ("thongke", "stats", supervision.stats),
    ("donvi", "unit", supervision.unit),
    ("nhacnho", "remind", supervision.nudge),
)


async def unknown_command(turn: Turn) -> Outcome:
    return Outcome([turn.say("telegram.unknown_command")])


async def channel_choice(turn: Turn) -> Outcome:
    """/kenh [zalo|telegram|tudong]: where proactive messages go (see bot.zalo.preference)."""
    text = await channel_command(
        session=turn.session,
        person_id=turn.person_id,
        args=" ".join(turn.args),
        lang=turn.lang,
        now=turn.now,
        channel=CHANNEL_TELEGRAM,
    )
    return Outcome([Say(text)])


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
    result: list[BaseHandler[Update, Context, None]] = [
        MessageHandler(filters.UpdateType.EDITED, ignore),
        MessageHandler(NOT_PRIVATE & filters.COMMAND, group_answer),
        MessageHandler(NOT_PRIVATE, ignore),
        CommandHandler(
            "start", turn_callback("start", onboarding.start, strangers=True), filters=PRIVATE
        ),
        CommandHandler(
            ["trogiup", "help"], turn_callback("help", onboarding.help_command), filters=PRIVATE
        ),
    ]
    for name, command in reporting.ENGINE_COMMANDS.items():
        result.append(
            CommandHandler(
                name, turn_callback(name, reporting.engine_command(command)), filters=PRIVATE
            )
        )
    result.append(
        CommandHandler(
            ["tonghop", "digest"], supervision.digest_callback("tonghop"), filters=PRIVATE
        )
    )
    for vietnamese, english, handler in SUPERVISION:
        result.append(
            CommandHandler(
                [vietnamese, english], turn_callback(vietnamese, handler), filters=PRIVATE
            )
        )
    result.append(
        CommandHandler(["kenh", "channel"], turn_callback("kenh", channel_choice), filters=PRIVATE)
    )
    result += admin.handlers()
    result += [
        MessageHandler(PRIVATE & filters.COMMAND, turn_callback("unknown", unknown_command)),
        MessageHandler(PRIVATE & filters.TEXT, turn_callback("text", reporting.text)),
        CallbackQueryHandler(turn_callback("press", reporting.press)),
        MessageHandler(PRIVATE, turn_callback("not_text", reporting.not_text)),
    ]
    return result


async def on_error(update: object, context: Context) -> None:
    """Log what failed (update id, user id, handler, the exception's type and frames: never
    the message text, the exception's message or the token) and apologise in the chat."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    user = update.effective_user if isinstance(update, Update) else None
    chat = update.effective_chat if isinstance(update, Update) else None
    turn = current.get()
    if turn is not None and turn.update_id != update_id:
        turn = None
    frames = "".join(traceback.format_tb(error.__traceback__)) if error is not None else ""
    log.error(
        "update %s from user %s failed in handler %s: %s\n%s",
        update_id,
        user.id if user else None,
        turn.handler if turn else "?",
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
            await update.callback_query.answer()
        key = "db.busy" if isinstance(error, DatabaseBusy) else "telegram.error"
        await context.bot.send_message(chat_id=chat.id, text=t(key, lang))
    except TelegramError as exc:
        log.warning("could not apologise for update %s: %s", update_id, type(exc).__name__)


def register(application: Application) -> None:
    application.add_handlers(handlers(), group=0)
    application.add_error_handler(on_error)
