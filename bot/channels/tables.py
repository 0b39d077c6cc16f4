"""Aligned plain-text tables (columns separated by two or more spaces, as the digest's per-level
table is written) shown the way each channel can: Telegram keeps the alignment inside `<pre>`
(a fixed-width font); Zalo has a proportional font, so each row becomes a list line that names
its columns ("• Cấp cơ sở: (1) 0/2, (2) 0/2, Bài thu hoạch 0,0%")."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_GAP = re.compile(r" {2,}")


def _cells(line: str) -> list[str]:
    return _GAP.split(line.strip())


def _is_row(line: str) -> bool:
    return len(_cells(line)) >= 3 and not line.startswith(" ")


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of every run of at least two table rows with the same number of cells."""
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if _is_row(lines[i]):
            width = len(_cells(lines[i]))
            j = i + 1
            while j < len(lines) and _is_row(lines[j]) and len(_cells(lines[j])) == width:
                j += 1
            if j - i >= 2:
                blocks.append((i, j))
            i = j
        else:
            i += 1
    return blocks


def _rewrite(
    text: str, block: Callable[[list[str]], list[str]], other: Callable[[str], str]
) -> str:
    lines = text.split("\n")
    out: list[str] = []
    position = 0
    for start, end in _blocks(lines):
        out.extend(other(line) for line in lines[position:start])
        out.extend(block(lines[start:end]))
        position = end
    out.extend(other(line) for line in lines[position:])
    return "\n".join(out)


def as_lists(text: str) -> str:
    """Every table as list lines: the first row names the columns."""

    def block(rows: list[str]) -> list[str]:
        header, *body = (_cells(row) for row in rows)
        return [
            "• "
            + cells[0]
            + ": "
            + ", ".join(
                f"{name} {value}" for name, value in zip(header[1:], cells[1:], strict=False)
            )
            for cells in body
        ]

    return _rewrite(text, block, lambda line: line)


def as_html_pre(text: str) -> str:
    """The text HTML-escaped, every table inside `<pre>` (its alignment kept)."""

    def block(rows: list[str]) -> list[str]:
        escaped = [html.escape(row, quote=False) for row in rows]
        return [f"<pre>{escaped[0]}", *escaped[1:-1], f"{escaped[-1]}</pre>"]

    return _rewrite(text, block, lambda line: html.escape(line, quote=False))
