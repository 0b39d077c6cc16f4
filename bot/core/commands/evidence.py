"""Evidence sent in chat: an image (Zalo's `photo_url`) from a reporter, outside a form, is
attached to their unit's most recently changed report in an open campaign (Telegram photos and
documents are not taken in yet). The download and the write run after
the turn's commit, as a `Job` ("evidence", `bot.core.jobs`): the turn never holds the write
lock while fetching, and a replay of the update runs the job again, which attaches nothing twice
(`storage.evidence` keeps one row per report and file)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bot.core.io import Job, Outcome
from bot.core.turn import Output, Runtime, Turn
from storage.campaign_status import is_open
from storage.evidence import EvidenceRefused, attach_evidence, evidence_counts
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.reports import unit_reports

MB = 1024 * 1024
FETCH_TIMEOUT = 30.0


class FetchFailed(Exception):
    pass


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
    """An image from a reporter: attach it (after the commit) to the report it belongs to."""
    latest = None
    for unit_id in turn.scope.reporter_unit_ids:
        for row in await unit_reports(session=turn.session, unit_id=unit_id):
            if is_open(row.campaign) and (
                latest is None or row.report.updated_at > latest.report.updated_at
            ):
                latest = row
    if latest is None or latest.report.id is None:
        return Outcome([turn.say("evidence.no_report")])
    params = {"url": turn.inbound.media_url, "report_id": latest.report.id, "channel": turn.channel}
    return Outcome(jobs=[Job("evidence", params)])


async def evidence_job(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    settings = runtime.settings
    limit = settings.evidence_max_mb * MB
    number = int(params["report_id"])
    try:
        data = await fetch_media(str(params["url"]), limit)
    except FetchFailed:
        return [OutgoingMessage(text=t("evidence.fetch_failed", lang))]
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
