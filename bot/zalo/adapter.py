"""One Zalo update = one turn, as on Telegram: one write transaction (the processed-update record,
the person's writes, the engine's writes), then — only after the commit — the replies.

What a person can send and what happens:
- a group chat: a command gets one short "write to me privately" answer (nothing read or
  written); anything else is ignored;
- the invite code, typed alone or after /start: onboarding (`storage.invites.redeem_invite`),
  throttled after repeated wrong codes like Telegram's /start;
- anyone else who is not a person with a role: the polite refusal, nothing more;
- /baocao /capnhat /tinhtrang /huy (and the English aliases): the conversation engine;
  /kenh: the channel for proactive messages; /trogiup and /start: the command list;
- typed text: to the engine while a draft is open (the engine maps "1", "co", "có" and the
  choice labels itself), else a hint;
- an image, a sticker, anything that is not text: "Vui lòng trả lời bằng chữ".

Replays (getUpdates after a crash, a webhook retry, a second worker) are recognised by
`event_name` + `message_id` in `processed_update` (channel "zalo"): the turn does not run again,
the texts it stored with the row are sent again (at-least-once replies, as on Telegram)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import ChannelError, RetryAfter
from bot.conversation.engine import Actor, ConversationEngine, Input
from bot.i18n import pick_language, t
from bot.settings import Settings
from bot.zalo.client import ZaloClient
from bot.zalo.preference import channel_command
from bot.zalo.render import ReplyLike, render_all
from storage.access import Scope, scope_of
from storage.attempts import record_failure, throttled
from storage.clock import Clock
from storage.db import Database, DatabaseBusy, bounded_writes
from storage.invites import RedeemOutcome, is_well_formed, redeem_invite
from storage.models import CHANNEL_ZALO, Person
from storage.people import find_person_by_identity, touch_identity
from storage.updates import claim_update, store_replies, stored_replies

log = logging.getLogger(__name__)

EVENT_TEXT = "message.text.received"
EVENT_SHORT = {
    EVENT_TEXT: "t",
    "message.image.received": "i",
    "message.sticker.received": "s",
    "message.unsupported.received": "u",
}
MAX_KEY = 64  # processed_update.update_id

# Command names as people type them -> the engine's canonical names.
ENGINE_COMMANDS = {
    "baocao": "report",
    "report": "report",
    "capnhat": "update",
    "update": "update",
    "tinhtrang": "status",
    "status": "status",
    "huy": "cancel",
    "cancel": "cancel",
}
HELP_COMMANDS = frozenset({"trogiup", "help"})
CHANNEL_COMMANDS = frozenset({"kenh", "channel"})
REPORTER_COMMANDS = ("baocao", "capnhat", "tinhtrang", "huy")


@dataclass(frozen=True)
class Say:
    """A reply written by the adapter (from the catalog): text only."""

    text: str
    choices: tuple[tuple[Any, ...], ...] = ()
    numbered: bool = False


@dataclass(frozen=True)
class ZaloMessage:
    event: str
    message_id: str
    user_id: str
    chat_id: str
    group: bool
    text: str
    name: str | None

    @property
    def key(self) -> str:
        """The dedupe key: event + message id (hashed if it would not fit the column)."""
        key = f"{EVENT_SHORT.get(self.event, self.event)}:{self.message_id}"
        if len(key) > MAX_KEY:
            key = "h:" + hashlib.sha256(key.encode()).hexdigest()[:40]
        return key


def parse_update(data: object) -> ZaloMessage | None:
    """The fields the bot uses, or None for anything it cannot read (ignored)."""
    if not isinstance(data, dict):
        return None
    if "event_name" not in data and isinstance(data.get("result"), dict):
        data = data["result"]  # a webhook body wrapped like an API answer
    assert isinstance(data, dict)
    event = data.get("event_name")
    message = data.get("message")
    if not isinstance(event, str) or not isinstance(message, dict):
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    assert isinstance(sender, dict) and isinstance(chat, dict)
    user_id, message_id = sender.get("id"), message.get("message_id")
    if user_id in (None, "") or message_id in (None, ""):
        return None
    chat_type = str(chat.get("chat_type") or chat.get("type") or "PRIVATE").upper()
    text = message.get("text")
    name = sender.get("display_name") or sender.get("name")
    return ZaloMessage(
        event=event[:64],
        message_id=str(message_id)[:200],
        user_id=str(user_id)[:64],
        chat_id=str(chat.get("id") or user_id)[:64],
        group=chat_type != "PRIVATE",
        text=text if isinstance(text, str) else "",
        name=str(name)[:255] if name else None,
    )


def split_command(text: str) -> tuple[str | None, str]:
    """("baocao", "args") for "/baocao args" (also "/BaoCao@bot"); (None, text) otherwise."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None, text
    head, _, rest = stripped[1:].partition(" ")
    return head.split("@")[0].lower(), rest.strip()


@dataclass
class _Turn:
    session: AsyncSession
    now: datetime
    msg: ZaloMessage
    person: Person | None
    scope: Scope
    lang: str

    @property
    def known(self) -> bool:
        return self.person is not None and not self.scope.is_empty

    @property
    def person_id(self) -> int:
        assert self.person is not None and self.person.id is not None
        return self.person.id

    def say(self, key: str, **params: object) -> Say:
        return Say(t(key, self.lang, **params))


class ZaloAdapter:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        client: ZaloClient,
        engine: ConversationEngine | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.client = client
        self.engine = engine or ConversationEngine()
        self.limit = settings.zalo_max_message

    async def process(self, data: object) -> None:
        """Handle one update. Never raises: a failed turn is rolled back (so the update may be
        tried again) and the person gets a short apology instead of silence."""
        msg = parse_update(data)
        if msg is None:
            log.info("zalo update ignored: not a message")
            return
        if msg.group:
            if split_command(msg.text)[0] is not None:
                await self._send(msg.chat_id, [t("zalo.group", self.settings.language)])
            return
        lang = pick_language(self.settings.language)
        try:
            with bounded_writes():
                result = await self._turn(msg)
        except Exception as exc:  # the error boundary of a turn (as PTB's error handler): apologise
            log.error(
                "zalo update %s from user %s failed: %s",
                msg.key,
                msg.user_id,
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            busy = isinstance(exc, DatabaseBusy)
            await self._send(msg.chat_id, [t("db.busy" if busy else "zalo.error", lang)])
            return
        texts, replayed = result
        if replayed:  # its stored texts, which a kill may have lost after the commit
            log.info("zalo update %s replayed; %d messages sent again", msg.key, len(texts))
        await self._send(msg.chat_id, texts)

    async def _send(self, chat_id: str, texts: Sequence[str]) -> None:
        for text in texts:
            for attempt in range(2):
                try:
                    await self.client.send_message(chat_id, text)
                    break
                except RetryAfter as exc:
                    if attempt == 1 or exc.seconds > 10:
                        log.warning("zalo reply to %s dropped: rate limited", chat_id)
                        return
                    await asyncio.sleep(exc.seconds)
                except ChannelError as exc:
                    log.warning("zalo reply to %s failed: %s", chat_id, type(exc).__name__)
                    return

    async def _turn(self, msg: ZaloMessage) -> tuple[list[str], bool]:
        """The texts to send, and True for a replay (the texts stored by its first turn)."""
        now = self.clock()
        async with self.db.write() as session:
            if not await claim_update(
                session=session, channel=CHANNEL_ZALO, update_id=msg.key, now=now
            ):
                stored = await stored_replies(
                    session=session, channel=CHANNEL_ZALO, update_id=msg.key
                )
                return [str(m["text"]) for m in stored], True
            person = await find_person_by_identity(
                session=session, channel=CHANNEL_ZALO, external_id=msg.user_id
            )
            scope = (
                await scope_of(session=session, person_id=person.id)
                if person is not None and person.id is not None
                else Scope(person_id=0)
            )
            lang = pick_language(person.language if person else None, self.settings.language)
            turn = _Turn(session, now, msg, person, scope, lang)
            replies = await self._dispatch(turn)
            texts = render_all(replies, turn.lang, limit=self.limit)
            await store_replies(
                session=session,
                channel=CHANNEL_ZALO,
                update_id=msg.key,
                replies=[{"chat_id": msg.chat_id, "text": text} for text in texts],
            )
            return texts, False

    async def _dispatch(self, turn: _Turn) -> Sequence[ReplyLike]:
        msg = turn.msg
        text = msg.text if msg.event == EVENT_TEXT else ""
        command, args = split_command(text)
        code = ""
        if command == "start":
            code = args.split()[0] if args else ""
        elif (
            command is None
            and is_well_formed(text.strip())
            and (not turn.known or not await self._draft_open(turn))
        ):
            code = text.strip()
        if code:
            return await self._redeem(turn, code)
        if not turn.known:
            return [turn.say("zalo.refusal")]
        await touch_identity(
            session=turn.session,
            channel=CHANNEL_ZALO,
            external_id=msg.user_id,
            now=turn.now,
            chat_id=msg.chat_id,
        )
        if msg.event != EVENT_TEXT:
            return [turn.say("zalo.text_only")]
        if command == "start":
            name = turn.person.full_name if turn.person else ""
            greeting = t("zalo.start.known", turn.lang, name=name)
            return [Say("\n".join([greeting, "", self._help(turn)]))]
        if command in ENGINE_COMMANDS:
            inp = Input(kind="command", command=ENGINE_COMMANDS[command], args=args)
            return await self._engine(turn, inp)
        if command in HELP_COMMANDS:
            return [Say(self._help(turn))]
        if command in CHANNEL_COMMANDS:
            answer = await channel_command(
                session=turn.session,
                person_id=turn.person_id,
                args=args,
                lang=turn.lang,
                now=turn.now,
                channel=CHANNEL_ZALO,
            )
            return [Say(answer)]
        if command is not None:
            return [turn.say("zalo.unknown_command")]
        if not await self._draft_open(turn):
            key = "zalo.no_draft" if turn.scope.is_reporter else "zalo.no_draft.other"
            return [turn.say(key)]
        return await self._engine(turn, Input(kind="text", text=text))

    async def _draft_open(self, turn: _Turn) -> bool:
        if not turn.known:
            return False
        return await self.engine.has_open_draft(session=turn.session, person_id=turn.person_id)

    async def _engine(self, turn: _Turn, inp: Input) -> Sequence[ReplyLike]:
        actor = Actor(person_id=turn.person_id, lang=turn.lang, channel=CHANNEL_ZALO)
        return await self.engine.handle(session=turn.session, actor=actor, inp=inp, now=turn.now)

    def _help(self, turn: _Turn) -> str:
        names = [*(REPORTER_COMMANDS if turn.scope.is_reporter else ()), "kenh", "trogiup"]
        lines = [t("zalo.help.intro", turn.lang)]
        lines += [
            t("zalo.help.line", turn.lang, command=n, description=t(f"zalo.cmd.{n}", turn.lang))
            for n in names
        ]
        if turn.scope.is_supervisor or turn.scope.is_admin:
            lines += ["", t("zalo.help.supervision", turn.lang)]
        return "\n".join(lines)

    async def _redeem(self, turn: _Turn, code: str) -> Sequence[ReplyLike]:
        account = f"{CHANNEL_ZALO}:{turn.msg.user_id}"
        if await throttled(session=turn.session, external_id=account, now=turn.now):
            return [turn.say("zalo.start.throttled")]
        outcome = await redeem_invite(
            session=turn.session,
            code=code,
            channel=CHANNEL_ZALO,
            external_id=turn.msg.user_id,
            now=turn.now,
            chat_id=turn.msg.chat_id,
            display_name=turn.msg.name,
        )
        if not outcome.ok:
            await record_failure(
                session=turn.session,
                external_id=account,
                status=outcome.status,
                now=turn.now,
                channel=CHANNEL_ZALO,
            )
            return [turn.say(f"zalo.start.refused.{outcome.status.value}")]
        assert outcome.person is not None and outcome.person.id is not None
        turn.person = outcome.person
        turn.lang = pick_language(outcome.person.language, self.settings.language)
        turn.scope = await scope_of(session=turn.session, person_id=outcome.person.id)
        return [Say(self._welcome(turn, outcome))]

    def _welcome(self, turn: _Turn, outcome: RedeemOutcome) -> str:
        assert outcome.person is not None
        where = (
            t("zalo.unit.label", turn.lang, name=outcome.unit.name, code=outcome.unit.code)
            if outcome.unit is not None
            else t("zalo.start.whole_tree", turn.lang)
        )
        role = (
            t(f"zalo.start.role.{outcome.role.kind}", turn.lang, unit=where)
            if outcome.role is not None  # None: the invite only bound the account to the person
            else t("zalo.start.linked", turn.lang)
        )
        return "\n".join(
            [
                t("zalo.start.welcome", turn.lang, name=outcome.person.full_name),
                role,
                "",
                self._help(turn),
            ]
        )
