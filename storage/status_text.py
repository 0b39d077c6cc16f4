"""One deliverable's status as a catalog sentence: how many units reported of how many expected,
on time, late and missing. The weekly digest, the compact /tonghop digest and the demo summary
all say it this way."""

from __future__ import annotations

from storage.figures import DeliverableInfo, Status
from storage.i18n.formatting import name_in, with_figures


def status_line(key: str, info: DeliverableInfo, status: Status, lang: str) -> str:
    """The catalog sentence `key` about one deliverable's units: how many reported of how many
    expected, on time, late and missing (a sentence may use only some of them)."""
    return with_figures(
        key,
        lang,
        deliverable=name_in(info, lang),
        reported=status.reported,
        expected=status.expected,
        on_time=status.on_time,
        late=status.late,
        missing=status.missing,
    )
