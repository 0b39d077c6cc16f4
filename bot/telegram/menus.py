"""Command menus (setMyCommands): everyone sees /start and /trogiup; a bound person sees, in
their own chat, the commands of their roles, then /kenh (where reminders and digests go) and
/trogiup. Descriptions come from the catalog."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import LANGUAGES, t
from storage.access import Scope

PUBLIC = ("start", "trogiup")
REPORTER = ("baocao", "capnhat", "tinhtrang", "huy")
SUPERVISOR = ("tonghop", "donvi", "nhacnho", "xuat")
ADMIN = ("tonghop", "thongke", "donvi", "nhacnho", "xuat", "moi", "phancong", "dot")
PERSON = ("kenh",)  # any person with a role


def command_names(scope: Scope) -> list[str]:
    """The person's commands in menu order (no duplicates); only /trogiup when the person has
    no role."""
    names: list[str] = []
    if scope.is_reporter:
        names.extend(REPORTER)
    if scope.is_supervisor:
        names.extend(SUPERVISOR)
    if scope.is_admin:
        names.extend(ADMIN)
    if names:
        names.extend(PERSON)
    names.append("trogiup")
    return list(dict.fromkeys(names))


def describe(names: list[str], lang: str) -> list[BotCommand]:
    return [BotCommand(name, t(f"telegram.cmd.{name}", lang)) for name in names]


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
