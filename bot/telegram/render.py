"""Turn a reply (plain text + rows of choices) into what Telegram sends: HTML-escaped text split
into messages of at most 4,096 characters on line boundaries, and an inline keyboard on the last
one. Replies come from the conversation engine or from the catalog; both are plain text."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.io import Choice, ReplyLike
from bot.core.split import split_lines

MAX_MESSAGE = 4096
MAX_CALLBACK_DATA = 64


@dataclass(frozen=True)
class Rendered:
    text: str  # HTML, at most MAX_MESSAGE characters
    markup: InlineKeyboardMarkup | None = None


def _safe_cut(line: str, limit: int) -> tuple[int, int]:
    """Where to cut an over-long line: at `limit`, or before an HTML entity it would split."""
    amp = line.rfind("&", max(0, limit - 8), limit)
    if amp > 0 and ";" not in line[amp:limit]:
        return amp, amp
    return limit, limit


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split on line boundaries so every part has at most `limit` characters; a single line
    longer than `limit` is cut hard. Empty text gives one empty part."""
    return split_lines(text, limit, cut=_safe_cut, drop_blank=False)


def keyboard(choices: Sequence[Sequence[Choice]]) -> InlineKeyboardMarkup | None:
    rows = []
    for row in choices:
        buttons = []
        for choice in row:
            if len(choice.data.encode("utf-8")) > MAX_CALLBACK_DATA:
                raise ValueError(f"callback data over {MAX_CALLBACK_DATA} bytes: {choice.data!r}")
            buttons.append(InlineKeyboardButton(choice.label, callback_data=choice.data))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


def render(reply: ReplyLike) -> list[Rendered]:
    """One or more messages for one reply; escaping happens before splitting so an entity such
    as `&amp;` is never cut (a part may be shorter than the limit, never longer)."""
    escaped_lines = [html.escape(line, quote=False) for line in reply.text.split("\n")]
    parts = split_text("\n".join(escaped_lines))
    markup = keyboard(reply.choices)
    rendered = [Rendered(part) for part in parts[:-1]]
    rendered.append(Rendered(parts[-1], markup))
    return rendered


def render_all(replies: Sequence[ReplyLike]) -> list[Rendered]:
    return [message for reply in replies for message in render(reply) if message.text.strip()]
