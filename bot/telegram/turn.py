"""One update = one turn: one write transaction (the idempotency record, the person's writes,
the engine's writes), then — only after the commit — the replies.

Handlers are plain `async def handler(turn: Turn) -> Outcome` functions: they read and write
through storage / the engine with `turn.session`, and return what to send. `turn_callback` wraps
one into a python-telegram-bot callback.

The rendered messages are stored on the update's `processed_update` row in the same transaction
(`storage.updates.store_replies`, just before the commit). A replay of the update (a kill after
the commit, before Telegram had its 200 or the next offset) does not run the handler again; it
sends the stored messages again, so a kill between the commit and the send never leaves the person
without an answer. The price: a kill after the send but before the confirmation sends them twice
(at-least-once replies). A replayed button press is answered (without text) so its spinner stops;
Telegram refuses an answer to an old query, which is ignored. Not stored: the command menu and the
removal of a pressed keyboard."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import pick_language, t
from bot.settings import Settings
from bot.telegram.menus import set_chat_menu
from bot.telegram.render import Rendered, ReplyLike, Say, render_all
from storage.access import Scope, scope_of
from storage.clock import Clock
from storage.db import Database
from storage.models import CHANNEL_TELEGRAM, ChatIdentity, Person
from storage.people import find_person_with_identity, touch_identity
from storage.updates import claim_update, store_replies, stored_replies

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
        replayed: list[dict[str, Any]] = []
        async with runtime.db.write() as session:
            fresh = await claim_update(
                session=session, channel=CHANNEL_TELEGRAM, update_id=update.update_id, now=now
            )
            if fresh:
                turn, identity = await _open_turn(session, now, runtime, update, context, name)
                if not turn.known and not strangers:
                    outcome = refusal(turn)
                else:
                    if turn.person is not None:
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
                messages = render_all(outcome.replies)
                await store_replies(
                    session=session,
                    channel=CHANNEL_TELEGRAM,
                    update_id=update.update_id,
                    replies=[stored_message(chat.id, m) for m in messages],
                )
            else:
                replayed = await stored_replies(
                    session=session, channel=CHANNEL_TELEGRAM, update_id=update.update_id
                )
        if not fresh:
            # Processed before: the handler does not run again; what it said is said again
            # (a kill may have lost it between the commit and the send).
            log.info("update %s replayed; %d messages sent again", update.update_id, len(replayed))
            await resend(context.bot, update, replayed)
            return
        # Committed: only now is anything said (so "Đã ghi nhận" is only sent for durable data).
        await deliver(context.bot, update, chat.id, outcome, turn.lang, messages)

    callback.__name__ = f"turn_{name}"
    return callback


async def _open_turn(
    session: AsyncSession,
    now: datetime,
    runtime: Runtime,
    update: Update,
    context: Context,
    name: str,
) -> tuple[Turn, ChatIdentity | None]:
    """The turn of a fresh update (who writes: person, scope, language) and the account's
    identity row as found."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
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
    return turn, identity


def stored_message(chat_id: int, message: Rendered) -> dict[str, Any]:
    """What `resend` needs to send `message` again (parse mode: the application's default)."""
    stored: dict[str, Any] = {"chat_id": chat_id, "text": message.text}
    if message.markup is not None:
        stored["reply_markup"] = message.markup.to_dict()
    return stored


async def deliver(
    bot: Bot,
    update: Update,
    chat_id: int,
    outcome: Outcome,
    lang: str,
    messages: Sequence[Rendered] | None = None,
) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(outcome.answer or None)
        if outcome.clear_keyboard and query.message is not None:
            try:
                await query.edit_message_reply_markup(reply_markup=None)
            except BadRequest as exc:  # already without keyboard, or too old to edit
                log.debug("keyboard not removed: %s", exc.message)
    for message in render_all(outcome.replies) if messages is None else messages:
        await bot.send_message(chat_id=chat_id, text=message.text, reply_markup=message.markup)
    if outcome.menu is not None:
        await set_chat_menu(bot, chat_id=chat_id, scope=outcome.menu, lang=lang)


async def resend(bot: Bot, update: Update, stored: Sequence[dict[str, Any]]) -> None:
    """A replay: stop a pressed button's spinner (Telegram refuses an answer to a query already
    answered or too old: ignored), then send the stored messages again."""
    query = update.callback_query
    if query is not None:
        try:
            await query.answer()
        except BadRequest as exc:
            log.debug("replayed callback query not answered: %s", exc.message)
    for message in stored:
        markup = message.get("reply_markup")
        await bot.send_message(
            chat_id=message["chat_id"],
            text=message["text"],
            reply_markup=InlineKeyboardMarkup.de_json(markup, bot) if markup else None,
        )
