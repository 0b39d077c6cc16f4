"""One update = one turn, the same on every channel.

    read what the turn needs (was the update seen? the person, their scope, their draft: one
    statement) -> dispatch (a command or the conversation engine) -> record the update with its
    rendered replies (one INSERT) -> commit -> acknowledge a pressed choice -> deliver the
    replies -> note them delivered

All of it before the delivery is one write transaction, so nothing is said about data that is
not on disk ("Đã ghi nhận" only after the commit). The replies are stored with the update's
row (`storage.updates`), each with a `delivered` flag; a replayed update (getUpdates after a
crash, a webhook retry, a second worker) does not run its handler again, it delivers what was
not delivered yet. A kill between the commit and the send: the replay sends the reply. The
`delivered` flags are written by the next turn's INSERT, or alone a second later
(`storage.delivery_marks`); a replay in this process knows them at once. Only a kill between
a send and that write can say a message twice. Two workers taking the same update at once
(PostgreSQL) both run the handler; the second one's INSERT finds the row, its transaction rolls
back and it replays the first one's replies.

Work after the commit (the /tonghop digest with its chart, the /xuat workbook) is a stored
`Job` entry like a message (`bot.core.jobs`): covered by the same flags and replays. A job that
fails is replaced by the channel's apology and counts as delivered: a replay (a Telegram
webhook retry) neither runs it again nor repeats the turn's other messages.

A reply that fails to send after the commit is not dropped: what is left goes to the outbox
(`Adapter.outgoing` says how, on the same channel and chat), which the sender retries with
back-off; the entries are marked delivered in the same write, so a replay does not send them
too. If that write fails as well (the database locked), the turn's data stays committed: it is
logged, never answered with `db.busy`, and the entries not sent stay undelivered for a
replay. This does not depend on the platform redelivering the update (Zalo does not, Telegram's
polling confirms a failed update). Answering a pressed choice is best effort
(`Adapter.acknowledge` never raises): an old query never stops the messages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.io import Fetcher, FileOut, Inbound, Outcome, ReplyLike, Say
from scheduler.channels import ChannelError, Unreachable
from storage.access import Scope, scope_from_roles
from storage.clock import Clock
from storage.db import Database, DatabaseBusy
from storage.delivery_marks import Mark, PendingMarks, pending_marks
from storage.i18n import pick_language, t
from storage.messages import OutgoingMessage
from storage.models import Person
from storage.organisation import organisation_name
from storage.people import ChatAccount, touch_identity
from storage.settings import Settings
from storage.turn_read import Preloaded, TurnRead, claim_and_read, read_turn
from storage.updates import (
    delivered_copy,
    mark_delivered,
    record_update,
    store_replies,
    stored_replies,
    without_secrets,
)

log = logging.getLogger(__name__)

Output = OutgoingMessage | FileOut
Unsaid = dict[str, Any] | Output  # a stored rendered reply, or a job's output


@dataclass(frozen=True)
class Runtime:
    """What every turn needs."""

    db: Database
    clock: Clock
    settings: Settings
    engine: Any = None  # bot.conversation.ConversationEngine (None: built on first use)
    media: Fetcher | None = None  # the channel's file download (None: an https URL, Zalo's)

    def conversation(self) -> Any:
        if self.engine is None:
            from bot.conversation import ConversationEngine

            object.__setattr__(self, "engine", ConversationEngine())
        return self.engine


@dataclass
class Turn:
    session: AsyncSession
    now: datetime
    runtime: Runtime
    inbound: Inbound
    person: Person | None
    scope: Scope  # empty for a stranger, or a person whose roles were all removed
    lang: str
    # The person's reporter units and draft as read with the turn, for the conversation
    # engine (None once it has run: it may have changed the draft).
    preloaded: Preloaded | None = None

    @property
    def channel(self) -> str:
        return self.inbound.channel

    @property
    def args(self) -> list[str]:
        return list(self.inbound.args)

    @property
    def chat_id(self) -> str:
        return self.inbound.chat_id

    @property
    def known(self) -> bool:
        """A person with at least one role: anyone else learns nothing."""
        return self.person is not None and not self.scope.is_empty

    @property
    def person_id(self) -> int:
        assert self.person is not None and self.person.id is not None
        return self.person.id

    def say(self, key: str, **params: object) -> Say:
        """The catalog's sentence; `{organisation}` is the configured organisation's name."""
        organisation = organisation_name(self.runtime.settings, self.lang)
        return Say(t(key, self.lang, **{"organisation": organisation, **params}))

    def say_channel(self, name: str, **params: object) -> Say:
        """The channel's own sentence (`telegram.<name>` / `zalo.<name>`): where the wording
        depends on the channel (buttons or typed numbers)."""
        return self.say(f"{self.channel}.{name}", **params)


class Adapter(Protocol):
    """A channel as the turn runner sees it. Every method that talks to the platform raises
    only `ChannelError` subclasses (RetryAfter / Unreachable / TransientError)."""

    channel: str

    def render(self, chat_id: str, replies: Sequence[ReplyLike], lang: str) -> list[dict[str, Any]]:
        """The replies as JSON messages to store and later `send` (each has chat_id)."""
        ...

    async def send(self, message: dict[str, Any]) -> None: ...

    async def send_output(
        self, chat_id: str, output: Output, *, person_id: int | None, lang: str, now: datetime
    ) -> None:
        """A job's output: a message (maybe with a photo), or a file."""
        ...

    async def outgoing(
        self, chat_id: str, output: Unsaid, *, person_id: int | None, lang: str, now: datetime
    ) -> OutgoingMessage | None:
        """What is left to say as an outbox message (None: it cannot be carried there)."""
        ...

    async def acknowledge(self, inbound: Inbound, outcome: Outcome) -> None:
        """Answer a pressed choice (stop its spinner, remove its keyboard). Never raises."""
        ...

    async def finish(self, inbound: Inbound, outcome: Outcome, lang: str) -> None:
        """After the delivery (Telegram: the chat's command menu). Never raises."""
        ...


@dataclass(frozen=True)
class Current:
    """What an error handler may log and use (never the message text)."""

    key: str
    command: str
    lang: str


current: ContextVar[Current | None] = ContextVar("cadrebot_turn", default=None)


async def open_turn(
    session: AsyncSession, now: datetime, runtime: Runtime, inbound: Inbound, read: TurnRead
) -> Turn:
    """Who writes: the person bound to the account, their scope as it is now, their language."""
    person, identity = read.person, read.identity
    lang = pick_language(
        person.language if person is not None else None,
        inbound.language_code,
        runtime.settings.language,
    )
    if person is None or person.id is None:
        return Turn(session, now, runtime, inbound, None, Scope(person_id=0), lang)
    scope = scope_from_roles(person.id, read.roles)
    if not scope.is_empty:
        await touch_identity(
            session=session,
            account=ChatAccount(
                inbound.channel, inbound.user_id, inbound.chat_id, inbound.language_code
            ),
            now=now,
            seen=identity,
        )
    preloaded = Preloaded(tuple(read.units), read.draft)
    return Turn(session, now, runtime, inbound, person, scope, lang, preloaded)


def stored_entries(adapter: Adapter, turn: Turn, outcome: Outcome) -> list[dict[str, Any]]:
    """The turn's replies and jobs as stored on its processed_update row."""
    entries = [
        {**message, "delivered": False}
        for message in adapter.render(turn.chat_id, outcome.replies, turn.lang)
    ]
    for job in outcome.jobs:
        entries.append(
            {
                "chat_id": turn.chat_id,
                "job": job.kind,
                "params": job.params,
                "person_id": turn.person_id if turn.person is not None else None,
                "lang": turn.lang,
                "at": turn.now.isoformat(),
                "delivered": False,
            }
        )
    return entries


class _Duplicate(Exception):
    """Another transaction recorded this update first: roll back, then replay it."""


async def _commit(
    runtime: Runtime, adapter: Adapter, inbound: Inbound, now: datetime, marks: PendingMarks
) -> tuple[bool, list[dict[str, Any]], Outcome, str]:
    """The turn's transaction: (fresh, entries to deliver, outcome, language).

    SQLite runs one writer at a time, so the read says whether the update is new and the row
    is inserted at the end with the replies. On PostgreSQL the row is inserted first, in the
    read's statement (`claim_and_read`): a concurrent duplicate then waits for this transaction
    and finds the row (never runs its handler); the replies follow in an UPDATE. Either way the
    pending delivered marks ride on that INSERT."""
    from bot.core.dispatch import dispatch

    channel, key, db = inbound.channel, inbound.key, runtime.db
    taken: list[Mark] = []
    try:
        async with db.write() as session:
            if db.is_sqlite:
                read = await read_turn(
                    session=session, channel=channel, update_id=key, external_id=inbound.user_id
                )
            else:  # the claim and the read in one statement
                taken = marks.take(keep=(channel, key))
                claimed = await claim_and_read(
                    session=session,
                    channel=channel,
                    update_id=key,
                    external_id=inbound.user_id,
                    now=now,
                    marks=taken,
                )
                if claimed is None:
                    stored = await stored_replies(session=session, channel=channel, update_id=key)
                    return False, marks.applied(channel, key, stored), Outcome(answer=""), ""
                read = claimed
            if read.seen:
                entries = marks.applied(channel, key, read.replies)
                return False, entries, Outcome(answer=""), ""
            turn = await open_turn(session, now, runtime, inbound, read)
            current.set(Current(key, inbound.command or inbound.kind, turn.lang))
            outcome = await dispatch(turn)
            entries = stored_entries(adapter, turn, outcome)
            if not db.is_sqlite:
                await store_replies(
                    session=session, channel=channel, update_id=key, replies=entries
                )
            else:
                taken = marks.take(keep=(channel, key))
                if not await record_update(
                    session=session,
                    channel=channel,
                    update_id=key,
                    now=now,
                    replies=entries,
                    marks=taken,
                ):
                    raise _Duplicate  # another process got there first (not with SQLite's lock)
    except BaseException:
        marks.give_back(taken)
        raise
    marks.done(taken)
    return True, entries, outcome, turn.lang


async def _replay(runtime: Runtime, inbound: Inbound, marks: PendingMarks) -> list[dict[str, Any]]:
    async with runtime.db.read() as session:
        read = await read_turn(
            session=session,
            channel=inbound.channel,
            update_id=inbound.key,
            external_id=inbound.user_id,
        )
    return marks.applied(inbound.channel, inbound.key, read.replies)


async def run_turn(runtime: Runtime, adapter: Adapter, inbound: Inbound) -> None:
    """The whole turn of one update (see the module docstring). Raises what the dispatch raised
    (the transaction rolled back: the update may be tried again)."""
    lang = pick_language(inbound.language_code, runtime.settings.language)
    current.set(Current(inbound.key, inbound.command or inbound.kind, lang))
    now = runtime.clock()
    marks = pending_marks(runtime.db)
    try:
        fresh, entries, outcome, turn_lang = await _commit(runtime, adapter, inbound, now, marks)
        lang = turn_lang or lang
    except _Duplicate:
        fresh, entries, outcome = False, await _replay(runtime, inbound, marks), Outcome(answer="")
    if not fresh:
        pending = sum(1 for e in entries if not e.get("delivered"))
        log.info(
            "update %s replayed; %d messages sent again (%s)", inbound.key, pending, inbound.channel
        )
    await adapter.acknowledge(inbound, outcome)
    await deliver(runtime, adapter, inbound, entries, now=now)
    if fresh:
        await adapter.finish(inbound, outcome, lang)


@dataclass(frozen=True)
class _Item:
    """One message to send: a stored message, or one output of a job."""

    chat_id: str
    person_id: int | None
    lang: str
    message: dict[str, Any] | None = None
    output: Output | None = None


async def _items(runtime: Runtime, adapter: Adapter, entry: dict[str, Any]) -> list[_Item]:
    chat_id = str(entry["chat_id"])
    person_id = entry.get("person_id")
    lang = str(entry.get("lang") or runtime.settings.language)
    if "job" not in entry:
        return [_Item(chat_id, person_id, lang, message=entry)]
    from bot.core.jobs import run_job

    try:
        outputs = await run_job(runtime, entry)
    except Exception as exc:  # after the commit: an apology in its place, never a re-run
        log.error(
            "%s job %s of a turn failed after the commit: %s",
            adapter.channel,
            entry.get("job"),
            type(exc).__name__,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        key = "db.busy" if isinstance(exc, DatabaseBusy) else f"{adapter.channel}.error"
        apology = adapter.render(chat_id, [Say(t(key, lang))], lang)
        return [_Item(chat_id, person_id, lang, message=m) for m in apology]
    return [_Item(chat_id, person_id, lang, output=o) for o in outputs]


async def _send(adapter: Adapter, item: _Item, now: datetime) -> None:
    if item.message is not None:
        await adapter.send(item.message)
    else:
        assert item.output is not None
        await adapter.send_output(
            item.chat_id, item.output, person_id=item.person_id, lang=item.lang, now=now
        )


async def deliver(
    runtime: Runtime,
    adapter: Adapter,
    inbound: Inbound,
    entries: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Send every entry not yet delivered, in order; then note what went out (written with
    the next write, `note_delivered`; with the outbox hand-over when a send failed)."""
    done: list[int] = []
    failure: ChannelError | None = None
    left: list[_Item] = []
    for index, entry in enumerate(entries):
        if entry.get("delivered"):
            continue
        items = await _items(runtime, adapter, entry)
        if failure is not None:
            left.extend(items)
            continue
        for position, item in enumerate(items):
            try:
                await _send(adapter, item, now)
            except Unreachable as exc:  # blocked the bot, no such chat: nothing reaches them
                log.warning("%s reply to an unreachable chat dropped: %s", adapter.channel, exc)
            except ChannelError as exc:
                failure = exc
                left.extend(items[position:])
                break
        if failure is None:
            done.append(index)
    sent = done
    if failure is not None:
        done = [i for i, e in enumerate(entries) if not e.get("delivered")]
    if not done:
        return
    if failure is not None:  # what is left must reach the outbox
        try:
            messages = [m for m in [await _outgoing(adapter, i, now) for i in left] if m]
            async with runtime.db.write() as session:
                await _hand_over(session, inbound, messages, now=now)
                await _mark(session, inbound, done, entries)
        except Exception as exc:  # the turn is committed: logged, never `db.busy`
            log.error(
                "%s update %s: %d replies failed after the commit, and the outbox too (%s); "
                "they stay undelivered for a replay",
                adapter.channel,
                inbound.key,
                len(left),
                type(exc).__name__,
            )
            if sent:  # what did go out is not said again by the replay
                note_delivered(runtime.db, inbound, sent, entries, now=now)
            return
        pending_marks(runtime.db).discard(inbound.channel, inbound.key)
        return
    note_delivered(runtime.db, inbound, done, entries, now=now)


def note_delivered(
    db: Database, inbound: Inbound, done: list[int], entries: list[dict[str, Any]], *, now: datetime
) -> None:
    """Everything went out: the delivered flags wait for the next write
    (`storage.delivery_marks`); only a replay could repeat these replies meanwhile."""
    mark = Mark(inbound.channel, inbound.key, delivered_copy(entries, done), now)
    pending_marks(db).add(mark)


async def _mark(
    session: AsyncSession, inbound: Inbound, done: list[int], entries: list[dict[str, Any]]
) -> None:
    await mark_delivered(
        session=session,
        channel=inbound.channel,
        update_id=inbound.key,
        indices=done,
        replies=entries,  # as stored by this turn or read by its replay: no read back
    )


async def _outgoing(adapter: Adapter, item: _Item, now: datetime) -> OutgoingMessage | None:
    """The outbox message for what `item` could not say; made before the outbox's write (Zalo
    keeps the file of a link in a write of its own)."""
    output = item.message if item.message is not None else item.output
    assert output is not None
    lang, person_id = item.lang, item.person_id
    return await adapter.outgoing(item.chat_id, output, person_id=person_id, lang=lang, now=now)


async def _hand_over(
    session: AsyncSession,
    inbound: Inbound,
    messages: list[OutgoingMessage],
    *,
    now: datetime,
) -> None:
    """What could not be sent goes to the outbox, one row per message, keyed by the update (a
    second hand-over of the same update queues nothing twice); the sender retries them with
    back-off, on this channel and chat."""
    from storage.outbox import enqueue

    for number, message in enumerate(messages):
        await enqueue(
            session=session,
            key=f"reply:{inbound.channel}:{inbound.key}:{number}",
            kind="reply",
            person_id=None,
            payload=without_secrets(message.to_payload()),  # no invite code kept on disk
            now=now,
            channel=inbound.channel,
            chat_id=inbound.chat_id,
        )
    log.warning(
        "%s update %s: %d replies failed after the commit; queued in the outbox",
        inbound.channel,
        inbound.key,
        len(messages),
    )
