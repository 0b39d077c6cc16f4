"""Evidence sent in chat: a photo or file (`bot.core.io.Media`: Zalo's image `photo_url`, a
Telegram photo or document) from a reporter.

- Outside a form: attached to their unit's most recently changed report in an open campaign.
- During a form ("gửi ảnh biên bản" while reporting): held on the draft and attached to the
  report when it is confirmed (`storage.evidence_drafts`); if the draft is gone by the time the
  file is downloaded (confirmed or cancelled), it goes to the unit's latest report.

What the platform says before the download (the size, the claimed type) is checked in the
turn, so a huge or wrong file is refused without being fetched; the bytes themselves are
checked after it (`storage.evidence`). The download (`bot.core.media`) and the write run after
the turn's commit, as a `Job` ("evidence", `bot.core.jobs`): the turn never holds the write
lock while fetching, and a replay of the update runs the job again, which attaches nothing
twice (one row per report, or draft, and file)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import media
from bot.core.io import FetchFailed, Job, Outcome
from bot.core.turn import Output, Runtime, Turn
from storage import drafts
from storage.campaign_status import is_open
from storage.evidence import KINDS, EvidenceRefused, attach_evidence, evidence_counts
from storage.evidence_drafts import hold_evidence
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.reports import unit_reports

MB = 1024 * 1024


async def _latest_report(session: AsyncSession, unit_ids: list[int]) -> int | None:
    latest = None
    for unit_id in unit_ids:
        for row in await unit_reports(session=session, unit_id=unit_id):
            if is_open(row.campaign) and (
                latest is None or row.report.updated_at > latest.report.updated_at
            ):
                latest = row
    return latest.report.id if latest is not None else None


async def received(turn: Turn) -> Outcome:
    """A photo or file from a reporter: attach it (after the commit) to the report it belongs
    to, or hold it on the form in progress, unless what the platform says about it is refused."""
    found = turn.inbound.media
    assert found is not None
    draft = await drafts.get_draft(session=turn.session, person_id=turn.person_id)
    params: dict[str, Any] = {"ref": found.ref, "channel": turn.channel}
    if draft is not None and draft.id is not None:
        params.update(draft_id=draft.id, unit_id=draft.unit_id)
    else:
        number = await _latest_report(turn.session, list(turn.scope.reporter_unit_ids))
        if number is None:
            return Outcome([turn.say("evidence.no_report")])
        params.update(report_id=number)
    most = turn.runtime.settings.evidence_max_mb
    if found.size is not None and found.size > most * MB:
        return Outcome([turn.say("evidence.too_large", limit=most)])
    if found.claimed_type is not None and found.claimed_type not in KINDS:
        return Outcome([turn.say("evidence.bad_type")])
    return Outcome(jobs=[Job("evidence", params)])


async def _attach_text(
    session: AsyncSession, number: int, data: bytes, keep: dict[str, Any], lang: str
) -> str:
    added = await attach_evidence(session=session, report_id=number, data=data, **keep)
    count = (await evidence_counts(session=session, report_ids=[number])).get(number, 0)
    key = "evidence.attached" if added is not None else "evidence.already"
    return t(key, lang, number=number, count=count)


async def _keep(
    session: AsyncSession, params: dict[str, Any], data: bytes, keep: dict[str, Any], lang: str
) -> str:
    """Attach the file to its report, or hold it on the form in progress; the answer."""
    if "draft_id" not in params:
        return await _attach_text(session, int(params["report_id"]), data, keep, lang)
    draft_id = int(params["draft_id"])
    try:
        held, count = await hold_evidence(session=session, draft_id=draft_id, data=data, **keep)
    except LookupError:  # confirmed or cancelled meanwhile: the unit's latest report
        number = await _latest_report(session, [int(params["unit_id"])])
        if number is None:
            return t("evidence.no_report", lang)
        return await _attach_text(session, number, data, keep, lang)
    return t("evidence.held" if held else "evidence.held_already", lang, count=count)


async def evidence_job(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    limit = runtime.settings.evidence_max_mb * MB
    try:
        # "url": a job stored before Telegram files were taken in
        data = await media.fetch(runtime, str(params.get("ref") or params.get("url")), limit)
    except FetchFailed:
        return [OutgoingMessage(text=t("evidence.fetch_failed", lang))]
    except EvidenceRefused as refused:
        return [OutgoingMessage(text=t(refused.key, lang, **refused.params))]
    keep: dict[str, Any] = {
        "folder": Path(runtime.settings.evidence_dir),
        "person_id": person_id,
        "channel": str(params["channel"]),
        "now": at,
        "max_bytes": limit,
    }
    try:
        async with runtime.db.write() as session:
            text = await _keep(session, params, data, keep, lang)
    except EvidenceRefused as refused:
        text = t(refused.key, lang, **refused.params)
    return [OutgoingMessage(text=text)]
