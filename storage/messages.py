"""The outgoing message: what the scheduler, the outbox and every channel adapter pass around.

A leaf module: it imports nothing else of the project, so storage (the outbox, reminder plans),
the scheduler (the sender, digests) and the bot (the channel adapters) may all use it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any


class PayloadError(ValueError):
    """An outbox payload that cannot be turned back into a message."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A proactive message. `photo` (bytes) or `photo_path` (a file on the sender's machine) makes
    it a photo with `text` as the caption. `choices` are (label, callback_data) buttons; a channel
    without buttons (Zalo) shows them as numbered lines."""

    text: str
    photo: bytes | None = None
    photo_path: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    html: bool = False

    def to_payload(self) -> dict[str, Any]:
        """JSON for the outbox. A photo is stored inline as base64 (a digest chart is 30-60 KB), so
        any sender process on any machine can deliver the row without a shared disk."""
        payload: dict[str, Any] = {"text": self.text}
        if self.photo is not None:
            payload["photo_b64"] = base64.b64encode(self.photo).decode("ascii")
        if self.photo_path is not None:
            payload["photo_path"] = self.photo_path
        if self.choices:
            payload["choices"] = [[label, data] for label, data in self.choices]
        if self.html:
            payload["html"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OutgoingMessage:
        try:
            text = payload["text"]
            photo_b64 = payload.get("photo_b64")
            photo = base64.b64decode(photo_b64, validate=True) if photo_b64 else None
            choices = [(str(label), str(data)) for label, data in payload.get("choices") or []]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise PayloadError(f"bad outbox payload: {exc}") from exc
        if not isinstance(text, str):
            raise PayloadError("bad outbox payload: text is not a string")
        return cls(
            text=text,
            photo=photo,
            photo_path=payload.get("photo_path"),
            choices=choices,
            html=bool(payload.get("html", False)),
        )
