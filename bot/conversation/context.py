"""One turn's draft with everything it refers to (unit, deliverable, campaign, parsed form,
the current version in update mode), loaded once per turn; parsed forms are cached."""

from __future__ import annotations

from typing import Any

from bot.conversation.types import Ctx, Turn, row_id
from storage.campaigns import form_of
from storage.forms import (
    Form,
    answers_from_json,
)
from storage.models import Campaign, Deliverable, Draft
from storage.reports import (
    current_version,
)

# Parsed forms by deliverable id, with the JSON they were parsed from. A hit needs the stored
# JSON (read with the draft in the same turn) to be equal, so a reloaded campaign, or another
# database with the same ids, never gets a stale form; `Form` is immutable, safe to share.
_FORMS: dict[int, tuple[dict[str, Any], Form]] = {}
_FORMS_MAX = 256


def form_of_deliverable(deliverable: Deliverable) -> Form:
    key = row_id(deliverable)
    cached = _FORMS.get(key)
    if cached is not None and cached[0] == deliverable.form:
        return cached[1]
    form = form_of(deliverable)
    if len(_FORMS) >= _FORMS_MAX:
        _FORMS.clear()
    _FORMS[key] = (deliverable.form, form)
    return form


def _loaded_with(turn: Turn, deliverable_id: int) -> tuple[Deliverable | None, Campaign | None]:
    """The deliverable (and its campaign) as read with the turn's draft, when it is this one:
    the same session objects `session.get` would find in the identity map, without its
    round through the session (twice per turn)."""
    if len(turn.loaded) != 3:
        return None, None
    deliverable, campaign = turn.loaded[1], turn.loaded[2]
    if not isinstance(deliverable, Deliverable) or deliverable.id != deliverable_id:
        return None, None
    if not isinstance(campaign, Campaign) or campaign.id != deliverable.campaign_id:
        return deliverable, None
    return deliverable, campaign


async def load_context(turn: Turn, draft: Draft) -> Ctx | None:
    unit = next((u for u in turn.units if u.id == draft.unit_id), None)
    if unit is None:
        return None
    ctx = Ctx(draft=draft, unit=unit)
    if draft.deliverable_id is not None:
        ctx.deliverable, ctx.campaign = _loaded_with(turn, draft.deliverable_id)
        if ctx.deliverable is None:
            ctx.deliverable = await turn.session.get(Deliverable, draft.deliverable_id)
            if ctx.deliverable is None:
                return None
        if ctx.campaign is None:
            ctx.campaign = await turn.session.get(Campaign, ctx.deliverable.campaign_id)
        ctx.form = form_of_deliverable(ctx.deliverable)
    if draft.report_id is not None and ctx.form is not None:
        version = await current_version(session=turn.session, report_id=draft.report_id)
        if version is not None:
            ctx.base = answers_from_json(ctx.form, version.answers or {})
    return ctx
