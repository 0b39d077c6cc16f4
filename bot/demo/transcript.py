"""The demo's transcript: what each featured person said and what the bot answered (as the
local Bot API recorded it), written as Markdown; and how the script finds a button to press."""

from __future__ import annotations

from typing import Any

from bot.telegram.local import Calls


class Transcript:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def heading(self, text: str) -> None:
        self.lines += ["", f"## {text}", ""]

    def note(self, text: str) -> None:
        self.lines += [f"*{text}*", ""]

    def said(self, who: str, text: str) -> None:
        self.lines += [f"**{who}:** {text}", ""]

    def bot(self, calls: Calls, chat_id: int) -> None:
        for call in calls:
            if call.chat_id != str(chat_id):
                continue
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self.lines += [f"> *(thông báo nhanh)* {call.params['text']}", ""]
            if call.method not in {"sendMessage", "sendPhoto", "sendDocument"}:
                continue
            body = _plain(call.text).replace("\n", "  \n> ")
            if call.method == "sendPhoto":
                body = "[ảnh biểu đồ]" + (f"  \n> {body}" if body else "")
            label = "cadrebot"
            self.lines += [f"> **{label}:** {body}"]
            buttons = _buttons(call.params.get("reply_markup"))
            if buttons:
                self.lines += ["> ", "> " + " ".join(f"[{b}]" for b in buttons)]
            self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines).strip() + "\n"


def _plain(html_text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"</?(b|i|code|pre|u)>", "", html_text))


def _buttons(markup: Any) -> list[str]:
    import json

    if isinstance(markup, str):
        markup = json.loads(markup)
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button["text"] for row in markup["inline_keyboard"] for button in row]


def last_buttons(calls: Calls) -> list[dict[str, Any]]:
    keyboards = calls.keyboards()
    return [button for row in keyboards[-1] for button in row] if keyboards else []


def button_ending(buttons: list[dict[str, Any]], suffix: str) -> dict[str, Any] | None:
    return next((b for b in buttons if str(b.get("callback_data", "")).endswith(suffix)), None)


def first_with(buttons: list[dict[str, Any]], marker: str) -> dict[str, Any] | None:
    return next((b for b in buttons if marker in str(b.get("callback_data", ""))), None)


def button_text(buttons: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    return next((b for b in buttons if b.get("text") == text), None)
