"""Command menus (setMyCommands): everyone sees /start and /trogiup; a bound person sees, in
their own chat, the commands of their roles (`bot.core.commands.start.command_names`, the list
/trogiup shows on every channel). Descriptions come from the catalog."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.core.commands.start import command_names
from storage.access import Scope
from storage.i18n import LANGUAGES, t

PUBLIC = ("start", "trogiup")


def describe(names: list[str], lang: str) -> list[BotCommand]:
    return [BotCommand(name, t(f"cmd.{name}", lang)) for name in names]


async def set_default_menu(bot: Bot) -> None:
    """The menu strangers and new users see, in Vietnamese and, for English clients, English."""
    await bot.set_my_commands(describe(list(PUBLIC), "vi"), scope=BotCommandScopeDefault())
    for lang in LANGUAGES:
        if lang != "vi":
            await bot.set_my_commands(
                describe(list(PUBLIC), lang), scope=BotCommandScopeDefault(), language_code=lang
            )


async def set_chat_menu(bot: Bot, *, chat_id: int | str, scope: Scope, lang: str) -> None:
    """This chat's menu: the commands of the person's roles, in the person's language."""
    await bot.set_my_commands(
        describe(command_names(scope), lang), scope=BotCommandScopeChat(chat_id=chat_id)
    )
