"""Evidence sent in chat: a photo or file (`bot.core.io.Media`: Zalo's image `photo_url`, a
Telegram photo or document) from a reporter, outside a form, is attached to their unit's most
recently changed report in an open campaign. What the platform says before the download (the
size, the claimed type) is checked in the turn, so a huge or wrong file is refused without
being fetched; the bytes themselves are checked after it (`storage.evidence`). The channel
downloads through `Runtime.media` (Telegram: getFile and the file URL, `bot.telegram.files`),
or, without one, an https URL (Zalo). The download and the write run after the turn's commit,
as a `Job` ("evidence", `bot.core.jobs`): the turn never holds the write lock while fetching,
and a replay of the update runs the job again, which attaches nothing twice (`storage.evidence`
keeps one row per report and file)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bot.core.io import FetchFailed, Job, Outcome
from bot.core.turn import Output, Runtime, Turn
from storage.campaign_status import is_open
from storage.evidence import KINDS, EvidenceRefused, attach_evidence, evidence_counts
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.reports import unit_reports

MB = 1024 * 1024
FETCH_TIMEOUT = 30.0


async def fetch_media(url: str, limit: int) -> bytes:
    """The bytes at `url` (https), at most `limit` + 1 of them (the caller refuses more)."""
    if not url.startswith("https://"):
        raise FetchFailed("not https")
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code}")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > limit:
                    break
            return bytes(data[: limit + 1])
    except httpx.HTTPError as exc:
        raise FetchFailed(type(exc).__name__) from exc


async def received(turn: Turn) -> Outcome:
    """A photo or file from a reporter: attach it (after the commit) to the report it belongs
    to, unless what the platform already says about it is refused."""
    media = turn.inbound.media
    assert media is not None
    latest = None
    for unit_id in turn.scope.reporter_unit_ids:
        for row in await unit_reports(session=turn.session, unit_id=unit_id):
            if is_open(row.campaign) and (
                latest is None or row.report.updated_at > latest.report.updated_at
            ):
                latest = row
    if latest is None or latest.report.id is None:
        return Outcome([turn.say("evidence.no_report")])
    most = turn.runtime.settings.evidence_max_mb
    if media.size is not None and media.size > most * MB:
        return Outcome([turn.say("evidence.too_large", limit=most)])
    if media.claimed_type is not None and media.claimed_type not in KINDS:
        return Outcome([turn.say("evidence.bad_type")])
    params = {"ref": media.ref, "report_id": latest.report.id, "channel": turn.channel}
    return Outcome(jobs=[Job("evidence", params)])


async def evidence_job(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    settings = runtime.settings
    limit = settings.evidence_max_mb * MB
    number = int(params["report_id"])
    fetch = runtime.media or fetch_media
    try:
        # "url": a job stored before Telegram files were taken in
        data = await fetch(str(params.get("ref") or params.get("url")), limit)
    except FetchFailed:
        return [OutgoingMessage(text=t("evidence.fetch_failed", lang))]
    except EvidenceRefused as refused:
        return [OutgoingMessage(text=t(refused.key, lang, **refused.params))]
    try:
        async with runtime.db.write() as session:
            added = await attach_evidence(
                session=session,
                folder=Path(settings.evidence_dir),
                report_id=number,
                data=data,
                person_id=person_id,
                channel=str(params["channel"]),
                now=at,
                max_bytes=limit,
            )
            count = (await evidence_counts(session=session, report_ids=[number])).get(number, 0)
    except EvidenceRefused as refused:
        return [OutgoingMessage(text=t(refused.key, lang, **refused.params))]
    key = "evidence.attached" if added is not None else "evidence.already"
    return [OutgoingMessage(text=t(key, lang, number=number, count=count))]
