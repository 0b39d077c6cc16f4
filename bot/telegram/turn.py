"""One update = one turn: one write transaction (the idempotency record, the person's writes,
the engine's writes), then — only after the commit — the replies.

Handlers are plain `async def handler(turn: Turn) -> Outcome` functions: they read and write
through storage / the engine with `turn.session`, and return what to send. `turn_callback` wraps
one into a python-telegram-bot callback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import pick_language, t
from bot.settings import Settings
from bot.telegram.menus import set_chat_menu
from bot.telegram.render import ReplyLike, Say, render_all
from storage.access import Scope, scope_of
from storage.clock import Clock
from storage.db import Database
from storage.models import CHANNEL_TELEGRAM, Person
from storage.people import find_person_with_identity, touch_identity
from storage.updates import claim_update

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class Runtime:
    """What the handlers need, stored in `application.bot_data["runtime"]`."""

    db: Database
    clock: Clock
    settings: Settings
    engine: Any = None  # bot.conversation.engine.ConversationEngine (None: reporting disabled)


def runtime_of(context: Context) -> Runtime:
    runtime = context.bot_data["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


@dataclass
class Turn:
    session: AsyncSession
    now: datetime
    runtime: Runtime
    update: Update
    user_id: int
    chat_id: int
    language_code: str | None
    display_name: str
    args: list[str]
    person: Person | None
    scope: Scope  # empty for a stranger, or a person whose roles were all removed
    lang: str

    @property
    def known(self) -> bool:
        """A person with at least one role: anyone else learns nothing."""
        return self.person is not None and not self.scope.is_empty

    @property
    def person_id(self) -> int:
        assert self.person is not None and self.person.id is not None
        return self.person.id

    def say(self, key: str, **params: object) -> Say:
        return Say(t(key, self.lang, **params))


@dataclass
class Outcome:
    replies: Sequence[ReplyLike] = ()
    answer: str | None = None  # callback query: the short answer ("" = just stop the spinner)
    menu: Scope | None = None  # set this chat's command menu to this scope's commands
    clear_keyboard: bool = False  # remove the keyboard of the pressed message


Handler = Callable[[Turn], Awaitable[Outcome]]


@dataclass(frozen=True)
class Current:
    """What the error handler may log and use (never the message text)."""

    update_id: int
    handler: str
    lang: str


current: ContextVar[Current | None] = ContextVar("cadrebot_telegram_turn", default=None)


def refusal(turn: Turn) -> Outcome:
    """For anyone without a person: says nothing about units, people or figures."""
    if turn.update.callback_query is not None:
        return Outcome(answer=t("telegram.callback.refused", turn.lang))
    return Outcome([turn.say("telegram.refusal")])


def turn_callback(
    name: str, handler: Handler, *, strangers: bool = False
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """A python-telegram-bot callback running `handler` as one turn. With `strangers=False`
    an account that is no person gets the refusal and the handler never runs."""

    async def callback(update: Update, context: Context) -> None:
        runtime = runtime_of(context)
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        lang = pick_language(user.language_code, runtime.settings.language)
        current.set(Current(update.update_id, name, lang))
        now = runtime.clock()
        async with runtime.db.write() as session:
            fresh = await claim_update(
                session=session, channel=CHANNEL_TELEGRAM, update_id=update.update_id, now=now
            )
            if not fresh:
                log.info("update %s replayed; ignored", update.update_id)
                return
            found = await find_person_with_identity(
                session=session, channel=CHANNEL_TELEGRAM, external_id=str(user.id)
            )
            person, identity = found if found is not None else (None, None)
            lang = pick_language(
                person.language if person is not None else None,
                user.language_code,
                runtime.settings.language,
            )
            current.set(Current(update.update_id, name, lang))
            scope = (
                await scope_of(session=session, person_id=person.id)
                if person is not None and person.id is not None
                else Scope(person_id=0)
            )
            turn = Turn(
                session=session,
                now=now,
                runtime=runtime,
                update=update,
                user_id=user.id,
                chat_id=chat.id,
                language_code=user.language_code,
                display_name=user.full_name,
                args=list(context.args or []),
                person=person,
                scope=scope,
                lang=lang,
            )
            if not turn.known and not strangers:
                outcome = refusal(turn)
            else:
                if person is not None:
                    await touch_identity(
                        session=session,
                        channel=CHANNEL_TELEGRAM,
                        external_id=str(user.id),
                        now=now,
                        chat_id=str(chat.id),
                        language_code=user.language_code,
                        seen=identity,
                    )
                outcome = await handler(turn)
        # Committed: only now is anything said (so "Đã ghi nhận" is only sent for durable data).
        await deliver(context.bot, update, chat.id, outcome, turn.lang)

    callback.__name__ = f"turn_{name}"
    return callback


async def deliver(bot: Bot, update: Update, chat_id: int, outcome: Outcome, lang: str) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(outcome.answer or None)
        if outcome.clear_keyboard and query.message is not None:
            try:
                await query.edit_message_reply_markup(reply_markup=None)
            except BadRequest as exc:  # already without keyboard, or too old to edit
                log.debug("keyboard not removed: %s", exc.message)
    for message in render_all(outcome.replies):
        await bot.send_message(chat_id=chat_id, text=message.text, reply_markup=message.markup)
    if outcome.menu is not None:
        await set_chat_menu(bot, chat_id=chat_id, scope=outcome.menu, lang=lang)
