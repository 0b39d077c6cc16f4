"""The desk's report page (admins): the draft report paragraph of the admin's own units, the
same paragraph as `cadrebot report` (`bot.report_draft`), and its Party document (.docx,
`bot.report_docx`). Scope is checked on the server: a unit asked for (`?unit=<id>`) must lie in
the admin's subtrees, and without one the figures cover exactly those subtrees (the whole tree
for a whole-tree admin); anything else gets the refusal, as a unit that does not exist."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from starlette.requests import Request
from starlette.responses import Response

from bot.report_draft import Draft, draft_report
from bot.web.auth import Viewer, admin_viewer, refused, web_of
from bot.web.figures_view import pick_campaign
from bot.web.render import page
from storage.access import admin_scope, visible_units_condition
from storage.audit import record
from storage.i18n import t
from storage.models import CHANNEL_WEB, Campaign, Unit
from storage.organisation import organisation, organisation_name
from storage.web_views import root_units

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class _Report:
    viewer: Viewer
    campaigns: list[Campaign]
    campaign: Campaign | None
    unit: Unit | None  # the unit asked for (its subtree), else None: all the admin's units
    area: str  # what the figures cover, in words
    draft: Draft | None


def _unit_id(request: Request) -> int | None:
    raw = request.query_params.get("unit", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


async def _report(request: Request) -> _Report | Response:
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    scope = admin_scope(viewer.scope)
    web = web_of(request)
    wanted = request.query_params.get("unit", "")
    async with web.db.read() as session:
        campaigns, campaign = await pick_campaign(session, request)
        unit = None
        root_path: str | None = None
        unit_filter: ColumnElement[bool] | None = None
        if wanted:
            unit_id = _unit_id(request)
            unit = await session.get(Unit, unit_id) if unit_id is not None else None
            if unit is None or not unit.active or not scope.sees(unit):
                return refused(viewer)
            root_path, area = unit.path, unit.name
        elif scope.whole_tree:
            area = t("web.report.whole_tree", viewer.lang)
        else:
            unit_filter = visible_units_condition(scope)
            area = ", ".join(u.name for u in await root_units(session=session, scope=scope))
        draft = None
        if campaign is not None and campaign.id is not None:
            draft = await draft_report(
                session=session,
                campaign_id=campaign.id,
                as_of=web.clock(),
                organisation=organisation_name(web.settings, viewer.lang),
                lang=viewer.lang,
                root_path=root_path,
                unit_filter=unit_filter,
            )
    return _Report(viewer, campaigns, campaign, unit, area, draft)


async def report_page(request: Request) -> Response:
    """GET /desk/report?c=<campaign>&unit=<id>: the paragraph and the document's link."""
    got = await _report(request)
    if isinstance(got, Response):
        return got
    return page(
        "desk_report.html",
        got.viewer.lang,
        viewer=got.viewer,
        campaigns=got.campaigns,
        campaign=got.campaign,
        unit=got.unit,
        area=got.area,
        draft=got.draft,
    )


async def report_docx_download(request: Request) -> Response:
    """GET /desk/report.docx?c=<campaign>&unit=<id>: the same paragraph as a Party document."""
    from bot.report_docx import report_docx  # python-docx: only for this download

    got = await _report(request)
    if isinstance(got, Response):
        return got
    viewer, campaign, draft = got.viewer, got.campaign, got.draft
    if campaign is None or campaign.id is None or draft is None:
        return refused(viewer)
    web = web_of(request)
    async with web.db.write() as session:
        await record(
            session=session,
            now=web.clock(),
            channel=CHANNEL_WEB,
            action="export.docx",
            entity="campaign",
            entity_id=campaign.id,
            actor_person_id=viewer.person_id,
            new={"unit_id": got.unit.id if got.unit is not None else None},
        )
    body = report_docx(
        draft, organisation=organisation(web.settings, viewer.lang), lang=viewer.lang
    )
    where = got.unit.code if got.unit is not None else "all"
    name = f"bao-cao_{campaign.id}_{where}_{draft.day.isoformat()}.docx"
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "-" for ch in name)
    return Response(
        body, media_type=DOCX, headers={"Content-Disposition": f'attachment; filename="{safe}"'}
    )
