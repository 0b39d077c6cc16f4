"""A reply (plain text + rows of choices) as Zalo text messages: Zalo has no buttons, so the
choices become a line of the text. Choices a typed number picks (`Reply.numbered`) are numbered
("Trả lời 1 — Xác nhận, 2 — Sửa, 3 — Hủy"); quick answers to a question are listed as hints
("Có thể trả lời: Có, Không"), since there the typed text is the answer itself. The engine
already accepts the number, the label and the label without diacritics, so nothing here has to
map an answer back. Messages are split under the limit on line boundaries."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.io import ReplyLike
from bot.core.split import split_lines
from storage.i18n import t

MAX_MESSAGE = 2000
INLINE_WIDTH = 70  # numbered choices fit on one line up to this length, else one per line


def choice_lines(labels: Sequence[str], *, numbered: bool, lang: str) -> list[str]:
    """The choices as text lines (none when there are no choices)."""
    if not labels:
        return []
    if not numbered:
        return [t("zalo.choices.hint", lang, answers=", ".join(labels))]
    items = [t("zalo.choices.item", lang, n=n, label=label) for n, label in enumerate(labels, 1)]
    inline = t("zalo.choices.inline", lang, items=", ".join(items))
    if len(inline) <= INLINE_WIDTH:
        return [inline]
    return [t("zalo.choices.head", lang), *items]


def _space_cut(line: str, limit: int) -> tuple[int, int]:
    """An over-long line is cut at its last space before the limit (hard when it has none)."""
    cut = line.rfind(" ", 0, limit + 1)
    cut = cut if cut > 0 else limit
    return cut, len(line) - len(line[cut:].lstrip(" "))


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Parts of at most `limit` characters, cut between lines; a longer single line is cut at
    its last space before the limit (or hard when it has none). Blank parts are dropped."""
    return split_lines(text, limit, cut=_space_cut, drop_blank=True)


def render(reply: ReplyLike, lang: str, *, limit: int = MAX_MESSAGE) -> list[str]:
    typed = bool(getattr(reply, "typed", False))  # the text says what to type: no choices
    labels = [] if typed else [choice.label for row in reply.choices for choice in row]
    numbered = bool(getattr(reply, "numbered", True))
    lines = [reply.text, *choice_lines(labels, numbered=numbered, lang=lang)]
    return split_text("\n".join(line for line in lines if line), limit)


def render_all(replies: Sequence[ReplyLike], lang: str, *, limit: int = MAX_MESSAGE) -> list[str]:
    return [part for reply in replies for part in render(reply, lang, limit=limit)]
