"""The steps of a draft, the button tokens and the callback data that carries them.

A button's data (<= 64 bytes, never user text) is `c:<draft id>:<revision>:<nonce>:<token>`; a press
whose draft id, revision or nonce is not the draft's current one changes nothing.
"""

from __future__ import annotations

import re
from enum import StrEnum

from storage import drafts
from storage.models import Draft

COMMANDS = ("report", "update", "status", "cancel")
MAX_DATA_BYTES = 64
DEFAULT_TZ = "Asia/Ho_Chi_Minh"


class Step(StrEnum):
    """A draft's step when it is not a form field's key (then the step is the question)."""

    PICK_UNIT = "pick_unit"
    PICK_DELIVERABLE = "pick_deliverable"
    PICK_REPORT = "pick_report"
    PICK_FIELD = "pick_field"
    SUMMARY = "summary"
    CONFIRMING = "confirming"


CHOICE_STEPS = frozenset(
    {Step.PICK_UNIT, Step.PICK_DELIVERABLE, Step.PICK_REPORT, Step.PICK_FIELD, Step.SUMMARY}
)


class Token(StrEnum):
    """The fixed button tokens (the others name a choice: u<unit>, d<deliverable>, ...)."""

    CONFIRM = "ok"
    EDIT = "ed"
    CANCEL = "x"
    BACK = "bk"


DATA = re.compile(r"^c:(\d{1,12}):(\d{1,10}):([0-9a-f]{6}):([a-z]{1,2}\d{0,12})$")
TYPED_NUMBER = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*$")


def callback_data(draft: Draft, token: str) -> str:
    data = f"c:{draft.id}:{draft.revision}:{drafts.nonce(draft)}:{token}"
    assert len(data.encode()) <= MAX_DATA_BYTES
    return data
