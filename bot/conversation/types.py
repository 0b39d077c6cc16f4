"""What the engine takes and gives (`Input`, `Reply` with rows of `bot.core.io.Choice`, `Actor`)
and one turn's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.callback import DEFAULT_TZ
from bot.core.io import Choice
from storage.access import Scope
from storage.clock import require_aware
from storage.forms import (
    Form,
    answers_from_json,
)
from storage.i18n import t
from storage.models import Campaign, Deliverable, Draft, Unit
from storage.reports import UnitDeliverable
from storage.turn_read import Preloaded


@dataclass(frozen=True)
class Input:
    kind: Literal["text", "choice", "command"]
    text: str = ""  # typed text (kind=text)
    data: str = ""  # callback data of a pressed choice (kind=choice); <= 64 bytes
    command: str = ""  # canonical command name (kind=command): report, update, status, cancel
    args: str = ""  # command arguments


@dataclass(frozen=True)
class Reply:
    text: str  # plain text (the adapter escapes it); may contain newlines
    # Rows of buttons (Zalo shows them numbered); data "c:<draft_id>:<revision>:<nonce>:<token>".
    choices: tuple[tuple[Choice, ...], ...] = ()
    done: bool = False  # the conversation ended (confirmed / cancelled)
    # True: typing a choice's number (1, 2 ...) picks it, so a channel without buttons lists
    # them numbered. False: the choices are quick answers to a question and typed text is the
    # answer itself (list them without numbers).
    numbered: bool = True


@dataclass(frozen=True)
class Actor:
    person_id: int
    lang: str  # "vi" or "en"
    channel: str  # "telegram" / "zalo"
    # The person's roles as the adapter already read them in this transaction (None: the
    # engine reads them).
    scope: Scope | None = None
    # Their reporter units and draft, read with the scope (None: the engine reads them).
    preloaded: Preloaded | None = None


# --- internal state of one turn ----------------------------------------------------------------


@dataclass
class Ctx:
    """A draft with everything it refers to, loaded once per turn."""

    draft: Draft
    unit: Unit
    deliverable: Deliverable | None = None
    campaign: Campaign | None = None
    form: Form | None = None
    base: dict[str, Any] = field(default_factory=dict)  # update mode: the current version
    # What the unit must report (`storage.reports.unit_deliverables`), when this turn has read
    # it already: the deliverable choice is then built from it instead of a second read.
    deliverables: list[UnitDeliverable] | None = None

    @property
    def tz(self) -> str:
        return self.campaign.timezone if self.campaign is not None else DEFAULT_TZ

    def answers(self) -> dict[str, Any]:
        assert self.form is not None
        return answers_from_json(self.form, self.draft.answers or {})


@dataclass(frozen=True)
class Option:
    label: str
    token: str


@dataclass
class Turn:
    session: AsyncSession
    actor: Actor
    now: datetime
    units: list[Unit]
    # The draft's deliverable and campaign as loaded with it: held here so `session.get` finds
    # them in the session's identity map (which holds objects weakly) instead of querying.
    loaded: tuple[Any, ...] = ()

    @property
    def lang(self) -> str:
        return self.actor.lang

    def t(self, key: str, **params: object) -> str:
        return t(key, self.actor.lang, **params)


def local_time(moment: datetime, tz: str) -> datetime:
    return require_aware(moment).astimezone(ZoneInfo(tz))


def row_id(row: Any) -> int:
    assert row is not None and row.id is not None
    return int(row.id)
