"""Work that runs after a turn's commit, stored with its replies (`bot.core.turn`): a replay of
an update whose job was not delivered runs it again, with the turn's own time, so it produces
the same digest or workbook.

- "digest": the person's digest as of the turn (`scheduler.digest.digest_data`, a read
  transaction of its own), rendered like the weekly one: the chart and the text;
- "export": the XLSX workbook of one subtree (`bot.export.write_xlsx`, a read transaction of its
  own: a large export must not hold the write lock), as a `FileOut` with its caption;
- "web": a one-time link into the web console (`bot.core.commands.web`);
- "evidence": a file sent in chat, downloaded and attached to its report or held on the form
  in progress (`bot.core.commands.evidence`)."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.io import FileOut
from bot.core.turn import Output, Runtime
from storage.clock import local_date, require_aware
from storage.i18n import t
from storage.i18n.formatting import date_text, number
from storage.messages import OutgoingMessage

MAX_CAPTION = 1024

Runner = Callable[[Runtime, dict[str, Any], int | None, str, datetime], Awaitable[list[Output]]]


async def _digest(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    # Imported here: matplotlib loads only when a digest is actually drawn.
    from scheduler.digest import digest_data
    from scheduler.digest_chart import render_chart
    from scheduler.digest_text import render_digest

    assert person_id is not None
    async with runtime.db.read() as session:
        data = await digest_data(session=session, person_id=person_id, now=at)
    if data is None:  # no open campaign expects any of the person's units
        return [OutgoingMessage(text=t("digest.brief.none", lang))]
    data = replace(data, lang=lang)
    return [OutgoingMessage(text=render_digest(data), photo=render_chart(data))]


async def _export(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    from bot.export import write_xlsx

    filename = str(params["filename"])
    with tempfile.TemporaryDirectory(prefix="cadrebot-export-") as folder:
        path = Path(folder) / filename
        async with runtime.db.read() as session:
            rows = await write_xlsx(
                session=session,
                campaign_id=int(params["campaign_id"]),
                as_of=at,
                output=path,
                root_path=params.get("root_path"),
                lang=lang,
            )
        data = path.read_bytes()
    caption = t(
        "admin.export.caption",
        lang,
        name=params["name"],
        reference=params["reference"],
        where=params["where"],
        date=date_text(local_date(at, str(params["timezone"])), lang),
        rows=number(rows, lang),
    )
    return [FileOut(filename=filename, data=data, caption=caption[:MAX_CAPTION])]


async def _web(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    from bot.core.commands.web import link_job

    return await link_job(runtime, params, person_id, lang, at)


async def _evidence(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    from bot.core.commands.evidence import evidence_job

    return await evidence_job(runtime, params, person_id, lang, at)


RUNNERS: dict[str, Runner] = {
    "digest": _digest,
    "export": _export,
    "web": _web,
    "evidence": _evidence,
}


async def run_job(runtime: Runtime, entry: dict[str, Any]) -> list[Output]:
    """The outputs of a stored job entry (see `bot.core.turn.stored_entries`)."""
    runner = RUNNERS[str(entry["job"])]
    return await runner(
        runtime,
        dict(entry.get("params") or {}),
        entry.get("person_id"),
        str(entry.get("lang") or runtime.settings.language),
        require_aware(datetime.fromisoformat(str(entry["at"]))),
    )
