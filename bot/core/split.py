"""Splitting a reply into messages of at most a channel's limit, on line boundaries; each
channel says where an over-long single line is cut (Telegram: before an HTML entity, Zalo: at
a space)."""

from __future__ import annotations

from collections.abc import Callable

# Where to cut an over-long `line` for `limit`: (end of the part, start of the rest).
Cut = Callable[[str, int], tuple[int, int]]


def split_lines(text: str, limit: int, *, cut: Cut, drop_blank: bool) -> list[str]:
    """Parts of at most `limit` characters, cut between lines; a longer single line is cut
    where `cut` says. `drop_blank`: leave out parts with nothing but spaces (else empty text
    gives one empty part)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            end, rest = cut(line, limit)
            parts.append(line[:end])
            line = line[rest:]
        candidate = line if not current else f"{current}\n{line}"
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    parts.append(current)
    return [part for part in parts if part.strip()] if drop_blank else parts
