"""What goes into a turn and what comes out of it, for every channel.

- `Inbound`: one platform update as the core sees it (who, which chat, a command with its
  arguments, typed text, a pressed choice, or something that is not text).
- `Say`: a reply written from the catalog (plain text and optional rows of `Choice`); the
  conversation engine's `Reply` has the same shape. An adapter renders both: buttons on
  Telegram, numbered lines on Zalo.
- `Job`: work that runs after the commit (the /tonghop digest with its chart, the /xuat
  workbook). It is stored with the turn's replies, so a replay of the update runs it again if
  it was not delivered (see `bot.core.jobs`).
- `Outcome`: what a handler returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from storage.access import Scope

InboundKind = Literal["command", "text", "press", "other"]


@dataclass(frozen=True)
class Media:
    """A photo or file sent in chat, before it is fetched: `ref` is what the channel's fetcher
    takes (Zalo: the https URL of the image; Telegram: the file_id), `size` (bytes) and
    `claimed_type` are what the platform says before any download (None: not said). Neither is
    trusted: the bytes are measured and their type read after the download
    (`storage.evidence`)."""

    ref: str
    size: int | None = None
    claimed_type: str | None = None


class FetchFailed(Exception):
    """The file could not be downloaded (the platform refused, the network failed)."""


# The channel's download of a `Media.ref`: at most `limit` + 1 bytes (the caller refuses more);
# raises FetchFailed, or `storage.evidence.EvidenceRefused` when the platform says it is too large.
Fetcher = Callable[[str, int], Awaitable[bytes]]


@dataclass(frozen=True)
class Inbound:
    channel: str  # "telegram" / "zalo": ChatIdentity.channel and the catalog prefix
    key: str  # the dedupe key of the update (processed_update.update_id)
    user_id: str  # the platform account
    chat_id: str
    kind: InboundKind
    command: str | None = None  # lower case, without "/" and "@bot"
    args: tuple[str, ...] = ()
    text: str = ""  # typed text (kind "text"); the whole message for a command
    data: str = ""  # a pressed choice's data (kind "press")
    display_name: str | None = None
    language_code: str | None = None
    media: Media | None = None  # kind "other": a Zalo image, a Telegram photo or document


@dataclass(frozen=True)
class Choice:
    """A button: what it says and the data a press sends back (<= 64 bytes UTF-8, never user
    text). The same for a command's `Say` and the conversation engine's `Reply`."""

    label: str
    data: str


class ReplyLike(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def choices(self) -> Sequence[Sequence[Choice]]: ...


@dataclass(frozen=True)
class Say:
    """A reply written by a command from the catalog. `numbered`: typing a choice's number
        picks it (Zalo lists the choices "1 — ...", Telegram shows buttons). `typed`: the text says
    which command to type for each choice, so a channel without buttons shows no choices."""

    text: str
    choices: tuple[tuple[Choice, ...], ...] = ()
    numbered: bool = True
    typed: bool = False  # the text already says what to type: the choices are buttons only


@dataclass(frozen=True)
class Job:
    """Work after the commit: `kind` names a runner in `bot.core.jobs`, `params` is JSON."""

    kind: str
    params: dict[str, Any]


@dataclass
class Outcome:
    replies: Sequence[ReplyLike] = ()
    answer: str | None = None  # a pressed choice: the short answer ("" = just acknowledge)
    menu: Scope | None = None  # channels with a command menu: show this scope's commands
    clear_keyboard: bool = False  # remove the keyboard of the pressed message
    jobs: list[Job] = field(default_factory=list)


@dataclass(frozen=True)
class FileOut:
    """A file a job produced (the /xuat workbook): Telegram uploads it, Zalo sends a link."""

    filename: str
    data: bytes
    caption: str
    content_type: str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
