"""The command layer: every command, written once for every channel, one module per group.

- `reporting`: /baocao /capnhat /tinhtrang /huy, typed answers and pressed choices (the
  conversation engine);
- `start`: /start (an invite code), /trogiup, and the command list of a person's roles;
- `supervision`: /tonghop /thongke /donvi /nhacnho;
- `export`: /xuat; `invite`: /moi; `assign`: /phancong; `campaigns`: /dot;
- `channel`: /kenh; `web`: /web (a link into the web console); `assess`: /danhgia;
- `review`: /duyet (approve, return, reopen report versions).

`REGISTRY` maps every name a person may type (Vietnamese and English) to its `Command`; the
dispatch (`bot.core.dispatch`) looks names up here, so a channel adapter never lists commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

from bot.core.io import Outcome
from bot.core.turn import Turn

Handler = Callable[[Turn], Awaitable[Outcome]]


@dataclass(frozen=True)
class Command:
    name: str  # the Vietnamese name, shown in menus and help
    aliases: tuple[str, ...]
    handler: Handler
    strangers: bool = False  # True: runs for people without a role (/start)


@cache
def registry() -> dict[str, Command]:
    """Every typed name -> its command (built on first use: nothing heavy at import time)."""
    from bot.core.commands import (
        assess,
        assign,
        campaigns,
        channel,
        export,
        invite,
        reporting,
        review,
        start,
        supervision,
        web,
    )

    commands: list[Command] = [
        Command("start", (), start.start, strangers=True),
        Command("trogiup", ("help",), start.help_command),
        *reporting.COMMANDS,
        *supervision.COMMANDS,
        Command("xuat", ("export",), export.export),
        Command("moi", ("invite",), invite.invite),
        Command("phancong", ("assign",), assign.assign),
        Command("dot", ("campaigns",), campaigns.campaigns),
        Command("kenh", ("channel",), channel.channel_choice),
        Command("web", (), web.web),
        Command("danhgia", ("assess",), assess.assess),
        *review.COMMANDS,
    ]
    return {name: c for c in commands for name in (c.name, *c.aliases)}


def find(name: str | None) -> Command | None:
    return registry().get(name or "")
