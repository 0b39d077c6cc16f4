"""The state of one outbox drain (`scheduler.sender.Sender`): its counters, the claimed rows
queued per chat in claim order, and what was sent but not yet recorded as sent."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.routing import Route
from storage.models import Outbox


@dataclass(slots=True)
class Stats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    rate_limited: int = 0
    deferred: int = 0
    failed: int = 0
    unreachable: int = 0
    withdrawn: int = 0  # reminders the unit answered before they went out

    def add(self, other: Stats) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class Item:
    row: Outbox
    behind: int  # due rows behind this one in its chat when it was claimed


@dataclass(slots=True)
class Sent:
    outbox_id: int
    message_id: str
    at: datetime
    person_id: int | None


@dataclass(slots=True)
class ChatQueue:
    route: Route
    items: deque[Item] = field(default_factory=deque)
    busy: bool = False  # a send to this chat is under way


@dataclass(slots=True)
class Drain:
    due_by: datetime
    stats: Stats = field(default_factory=Stats)
    chats: dict[Route, ChatQueue] = field(default_factory=dict)
    deferred: dict[Route, datetime] = field(default_factory=dict)
    dead: dict[Route, str] = field(default_factory=dict)
    inflight: set[int] = field(default_factory=set)  # claimed by this drain, not settled yet
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    claiming: bool = False
    unrecorded: list[Sent] = field(default_factory=list)  # sent, `sent` not committed yet
    recording: bool = False
    claim_more: bool = True  # the last claim found rows, or a row was settled since
    error: BaseException | None = None
