"""Replies to Telegram messages: escaping, splitting on lines, keyboards."""

from __future__ import annotations

import pytest

from bot.core.io import Choice as Button
from bot.core.io import Say
from bot.telegram.render import MAX_MESSAGE, render, split_text


def test_text_is_escaped_and_buttons_go_on_the_last_part() -> None:
    reply = Say("a <b> & c\n" * 800, ((Button("Có", "y"), Button("Chưa", "n")),))
    parts = render(reply)
    assert len(parts) > 1
    assert all(len(p.text) <= MAX_MESSAGE for p in parts)
    assert "&lt;b&gt; &amp; c" in parts[0].text and "<b>" not in parts[0].text
    assert all(p.markup is None for p in parts[:-1])
    assert parts[-1].markup is not None
    assert [b.callback_data for b in parts[-1].markup.inline_keyboard[0]] == ["y", "n"]


def test_split_keeps_lines_whole_and_loses_nothing() -> None:
    text = "\n".join(f"dòng {i}" for i in range(3000))
    parts = split_text(text, limit=1000)
    assert "\n".join(parts) == text
    assert all(len(p) <= 1000 for p in parts)
    assert all(not p.startswith("\n") for p in parts)


def test_an_overlong_line_is_cut_without_breaking_an_entity() -> None:
    line = "x" * 997 + "&amp;" + "y" * 10
    parts = split_text(line, limit=1000)
    assert parts[0] == "x" * 997 and parts[1].startswith("&amp;")
    assert "".join(parts) == line


def test_callback_data_over_64_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        render(Say("?", ((Button("x", "đ" * 40),),)))
