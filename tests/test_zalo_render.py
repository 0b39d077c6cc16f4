"""Replies as Zalo text: numbered choices, quick-answer hints, splitting under 2,000 characters."""

from __future__ import annotations

from bot.conversation.engine import Choice, Reply
from bot.zalo.render import render, split_text


def test_choices_a_number_picks_are_numbered_on_one_line_when_short() -> None:
    reply = Reply("Tóm tắt", choices=((Choice("Có", "c:1"), Choice("Chưa", "c:2")),))
    assert render(reply, "vi") == ["Tóm tắt\nTrả lời 1 — Có, 2 — Chưa"]
    assert render(reply, "en") == ["Tóm tắt\nReply 1 — Có, 2 — Chưa"]


def test_long_choice_labels_go_one_per_line() -> None:
    labels = ["Hội nghị học tập, quán triệt Nghị quyết (hạn 31/8/2016)", "Hủy"]
    reply = Reply("Chọn", choices=tuple((Choice(label, "x"),) for label in labels))
    [text] = render(reply, "vi")
    assert text.split("\n") == ["Chọn", "Trả lời bằng số thứ tự:", f"1 — {labels[0]}", "2 — Hủy"]


def test_quick_answers_are_hints_without_numbers() -> None:
    reply = Reply(
        "Câu 1/7", choices=((Choice("Hôm nay", "s0"), Choice("Hôm qua", "s1")),), numbered=False
    )
    assert render(reply, "vi") == ["Câu 1/7\nCó thể trả lời: Hôm nay, Hôm qua"]


def test_split_keeps_lines_whole_and_every_part_under_the_limit() -> None:
    text = "\n".join(f"dòng {n} " + "x" * 50 for n in range(100))
    parts = split_text(text, 2000)
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts)
    assert "\n".join(parts) == text


def test_a_single_overlong_line_is_cut_at_a_space() -> None:
    line = " ".join(["nghịquyết"] * 500)  # 4,999 characters
    parts = split_text(line, 2000)
    assert all(len(p) <= 2000 for p in parts)
    assert " ".join(parts).split() == line.split()
