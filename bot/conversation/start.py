"""Starting a report or a correction: which unit, which deliverable or report, then the first
question (a draft is created or reused)."""

from __future__ import annotations

from typing import Any

from bot.conversation.callback import Step
from bot.conversation.context import form_of_deliverable, load_context
from bot.conversation.prompts import (
    ask,
    prefixed,
    stale,
)
from bot.conversation.types import (
    Ctx,
    Reply,
    Turn,
    row_id,
)
from storage import drafts
from storage.campaign_status import is_open
from storage.forms import (
    next_field,
)
from storage.i18n.formatting import name_in
from storage.models import Deliverable, Draft, Report, Unit
from storage.reports import (
    current_version,
    unit_deliverables,
    unit_reports,
)
from storage.review import APPROVED


async def begin(turn: Turn, draft: Draft | None, unit: Unit, mode: str) -> list[Reply]:
    """The unit is known: pick what to report (or which report to change)."""
    if mode == drafts.MODE_UPDATE:
        return await begin_update(turn, draft, unit)
    items = await unit_deliverables(session=turn.session, unit=unit, now=turn.now)
    owed = [item for item in items if item.report is None]
    if not owed:
        if draft is not None:
            await drafts.delete_draft(session=turn.session, draft_id=row_id(draft))
        key = "conv.all_reported" if items else "conv.nothing_open"
        return [Reply(turn.t(key, unit=unit.name), done=True)]
    if len(owed) == 1:
        item = owed[0]
        return await open_deliverable(turn, draft, unit, item.deliverable)
    draft = await save_or_start(
        turn, draft, unit=unit, mode=drafts.MODE_NEW, step=Step.PICK_DELIVERABLE
    )
    if draft is None:
        return [stale(turn)]
    return [await ask(turn, Ctx(draft=draft, unit=unit, deliverables=items))]


async def open_deliverable(
    turn: Turn, draft: Draft | None, unit: Unit, deliverable: Deliverable
) -> list[Reply]:
    form = form_of_deliverable(deliverable)
    first = next_field(form, {})
    assert first is not None  # a form has at least one field
    ctx = await _open_form(
        turn, draft, unit, mode=drafts.MODE_NEW, step=first.key, deliverable_id=deliverable.id
    )
    if ctx is None:
        return [stale(turn)]
    assert ctx.campaign is not None
    intro = turn.t(
        "conv.intro",
        deliverable=name_in(deliverable, turn.lang),
        unit=unit.name,
        reference=ctx.campaign.reference,
    )
    return [prefixed(intro, await ask(turn, ctx))]


async def begin_update(turn: Turn, draft: Draft | None, unit: Unit) -> list[Reply]:
    rows = [
        row
        for row in await unit_reports(session=turn.session, unit_id=row_id(unit))
        if is_open(row.campaign)
    ]
    if not rows:
        if draft is not None:
            await drafts.delete_draft(session=turn.session, draft_id=row_id(draft))
        return [Reply(turn.t("conv.no_reports", unit=unit.name), done=True)]
    if len(rows) > 1:
        draft = await save_or_start(
            turn, draft, unit=unit, mode=drafts.MODE_UPDATE, step=Step.PICK_REPORT
        )
        if draft is None:
            return [stale(turn)]
        return [await ask(turn, Ctx(draft=draft, unit=unit))]
    return await open_report(turn, draft, unit, rows[0].report)


async def open_report(turn: Turn, draft: Draft | None, unit: Unit, report: Report) -> list[Reply]:
    version = await current_version(session=turn.session, report_id=row_id(report))
    if version is not None and version.review_state == APPROVED:  # locked until reopened
        if draft is not None:
            await drafts.delete_draft(session=turn.session, draft_id=row_id(draft))
        return [Reply(turn.t("review.locked", number=report.id), done=True)]
    ctx = await _open_form(
        turn,
        draft,
        unit,
        mode=drafts.MODE_UPDATE,
        step=Step.PICK_FIELD,
        deliverable_id=report.deliverable_id,
        report_id=report.id,
        answers=dict(version.answers or {}) if version is not None else {},
    )
    if ctx is None:
        return [stale(turn)]
    return [await ask(turn, ctx)]


async def _open_form(
    turn: Turn,
    draft: Draft | None,
    unit: Unit,
    *,
    answers: dict[str, Any] | None = None,
    **changes: Any,
) -> Ctx | None:
    """Save (or start) the draft on a deliverable's form with `answers` (None: a new report,
    no answers yet) and load its context; None if the draft changed meanwhile."""
    saved = await save_or_start(turn, draft, unit=unit, answers=answers or {}, **changes)
    if saved is None:
        return None
    ctx = await load_context(turn, saved)
    assert ctx is not None
    return ctx


async def save_or_start(
    turn: Turn, draft: Draft | None, *, unit: Unit, mode: str, step: str, **more: Any
) -> Draft | None:
    """Move the existing draft on (None if it changed meanwhile) or start one."""
    if draft is None:
        return await drafts.start_draft(
            session=turn.session,
            person_id=turn.actor.person_id,
            unit_id=row_id(unit),
            channel=turn.actor.channel,
            now=turn.now,
            step=step,
            mode=mode,
            **more,
        )
    moved = await drafts.advance(
        session=turn.session,
        draft=draft,
        seen_revision=draft.revision,
        now=turn.now,
        unit_id=row_id(unit),
        mode=mode,
        step=step,
        **more,
    )
    return draft if moved else None
