"""The supervisor's pages: the dashboard (their units as a tree with figures), a unit page
(its figures, its children, every version of its reports), late units, the workbook, the nudge.
Everything is checked against the viewer's scope on the server; a unit outside it gets the same
answer as a unit that does not exist."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.export import write_xlsx
from bot.web.assign import OUTCOMES
from bot.web.auth import Viewer, posted, refused, signed_in, web_of
from bot.web.figures_view import area_and_rows, context_of, groups, pick_campaign, unit_scope
from bot.web.late import late_units
from bot.web.render import message, page
from bot.web.unit_history import deliverable_history
from scheduler.reminders import NudgeOutcome, nudge_reachable
from storage.access import admin_scope, visible_units_condition
from storage.audit import record
from storage.clock import local_date
from storage.evidence import evidence_of
from storage.figures import UNIT, UnitScope
from storage.models import CHANNEL_WEB, Campaign, Unit
from storage.organisation import organisation_name
from storage.reminders import reporter_contacts
from storage.web_views import child_units, root_units, supervisors_of, visible_ancestors

NUDGE_SHOWN = {outcome.value for outcome in NudgeOutcome}
# After these the page lists the reporters without a chat account, to be called.
CALL_AFTER = {NudgeOutcome.QUEUED.value, NudgeOutcome.NOT_CONNECTED.value}


async def _viewer(request: Request) -> Viewer | Response:
    viewer = await signed_in(request)
    if isinstance(viewer, Viewer) and viewer.scope.is_empty:
        organisation = organisation_name(web_of(request).settings, viewer.lang)
        return message(
            "web.norole.title",
            "web.norole.body",
            viewer.lang,
            status=403,
            organisation=organisation,
        )
    return viewer


def _week(request: Request) -> bool:
    """`?week=1`: also the figures a week earlier (one more statement, so only on demand)."""
    return request.query_params.get("week") == "1"


def _approved(request: Request) -> bool:
    """`?approved=1`: the figures over approved reports only (#17.3), else every confirmed one."""
    return request.query_params.get("approved") == "1"


def _week_url(request: Request, campaign: Campaign) -> str:
    approved = "&approved=1" if _approved(request) else ""
    return f"{request.url.path}?c={campaign.id}&week=1{approved}"


def _basis_url(request: Request, campaign: Campaign) -> str:
    """The same page with the other figure basis."""
    other = "" if _approved(request) else "&approved=1"
    return f"{request.url.path}?c={campaign.id}{other}"


def _unit_id(request: Request) -> int | None:
    raw = str(request.path_params.get("unit_id", ""))
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


async def home(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    web = web_of(request)
    now = web.clock()
    async with web.db.read() as session:
        campaigns, campaign = await pick_campaign(session, request)
        roots = await root_units(session=session, scope=viewer.scope)
        if campaign is None:
            return page("home.html", viewer.lang, viewer=viewer, campaign=None, roots=roots)
        ctx = await context_of(session, campaign, _approved(request))
        area = await area_and_rows(
            session,
            ctx,
            now,
            area=UnitScope.of(viewer.scope),
            rows=[(u, unit_scope(viewer.scope, u)) for u in roots],
            unit_filter=visible_units_condition(viewer.scope),
            week=_week(request),
        )
    return page(
        "home.html",
        viewer.lang,
        viewer=viewer,
        campaigns=campaigns,
        campaign=campaign,
        figures=area.figures,
        groups=groups(area.figures, viewer.lang),
        rows=area.rows,
        week_url=_week_url(request, campaign),
        basis_url=_basis_url(request, campaign),
    )


async def _visible_unit(request: Request, viewer: Viewer) -> Unit | None:
    unit_id = _unit_id(request)
    if unit_id is None:
        return None
    async with web_of(request).db.read() as session:
        unit = await session.get(Unit, unit_id)
    if unit is None or not unit.active or not viewer.scope.sees(unit):
        return None
    return unit


async def unit_page(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    unit = await _visible_unit(request, viewer)
    if unit is None:
        return refused(viewer)
    web = web_of(request)
    now = web.clock()
    async with web.db.read() as session:
        campaigns, campaign = await pick_campaign(session, request)
        trail = await visible_ancestors(session=session, scope=viewer.scope, unit=unit)
        children = await child_units(session=session, scope=viewer.scope, unit=unit)
        context: dict[str, Any] = {"campaign": campaign, "campaigns": campaigns}
        if campaign is not None:
            ctx = await context_of(session, campaign, _approved(request))
            subtree = viewer.scope.whole_tree or any(
                unit.path.startswith(root) for root in viewer.scope.subtree_roots
            )
            own = UnitScope(unit_ids=(unit.id,) if unit.id is not None else ())
            area = await area_and_rows(
                session,
                ctx,
                now,
                area=UnitScope(paths=(unit.path,)) if subtree else own,
                rows=[(c, UnitScope(paths=(c.path,))) for c in children],
                root_path=unit.path if subtree else None,
                unit_filter=None if subtree else UNIT.c.id == unit.id,
                week=_week(request),
            )
            history = await deliverable_history(session, ctx, unit, now, viewer.lang)
            reported = [item.report_id for item in history if item.report_id is not None]
            context.update(
                figures=area.figures,
                groups=groups(area.figures, viewer.lang),
                rows=area.rows,
                history=history,
                evidence=await evidence_of(session=session, report_ids=reported),
                exportable=viewer.watch_scope.sees(unit),
                week_url=_week_url(request, campaign),
                basis_url=_basis_url(request, campaign),
            )
    if admin_scope(viewer.scope).sees(unit) and unit.id is not None:
        async with web.db.read() as session:
            context["supervisors"] = await supervisors_of(session=session, unit_id=unit.id)
        assigned = request.query_params.get("assign", "")
        context["assigned"] = assigned if assigned in OUTCOMES else ""
    nudged = request.query_params.get("nudge", "")
    context["request_nudge"] = nudged if nudged in NUDGE_SHOWN else ""
    if context["request_nudge"] in CALL_AFTER and unit.id is not None:
        async with web.db.read() as session:
            contacts = await reporter_contacts(session=session, unit_id=unit.id)
        context["to_call"] = [c for c in contacts if not c.connected]
    return page("unit.html", viewer.lang, viewer=viewer, unit=unit, trail=trail, **context)


async def late(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    web = web_of(request)
    now = web.clock()
    async with web.db.read() as session:
        campaigns, campaign = await pick_campaign(session, request)
        items = []
        if campaign is not None:
            ctx = await context_of(session, campaign)
            items = await late_units(session, ctx, viewer.watch_scope, now)
    return page(
        "late.html", viewer.lang, viewer=viewer, campaign=campaign, campaigns=campaigns, items=items
    )


async def export(request: Request) -> Response:
    """GET /export?c=<campaign>&unit=<id>[&approved=1]: the /xuat workbook of one subtree in scope
    (no unit: the whole tree for a whole-tree admin, or the one unit the viewer is in charge of),
    on the dashboard's figure basis (`approved=1`: approved reports only, as /xuat --approved)."""
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    scope = viewer.watch_scope
    web = web_of(request)
    now = web.clock()
    wanted = request.query_params.get("unit", "")
    approved = _approved(request)
    async with web.db.read() as session:
        _, campaign = await pick_campaign(session, request)
        unit: Unit | None = None
        if wanted:
            unit = await session.get(Unit, int(wanted)) if wanted.isdigit() else None
            if unit is None or not unit.active or not scope.sees(unit):
                return refused(viewer)
        elif not scope.whole_tree:
            roots = await root_units(session=session, scope=scope)
            if len(roots) != 1:
                return refused(viewer)
            unit = roots[0]
    if campaign is None or campaign.id is None or scope.is_empty:
        return refused(viewer)
    async with web.db.write() as session:
        await record(
            session=session,
            now=now,
            channel=CHANNEL_WEB,
            action="export.xlsx",
            entity="campaign",
            entity_id=campaign.id,
            actor_person_id=viewer.person_id,
            new={"unit_id": unit.id if unit is not None else None, "approved": approved},
        )
    day = local_date(now, campaign.timezone).isoformat()
    name = f"cadrebot_{campaign.id}_{unit.code if unit is not None else 'all'}_{day}.xlsx"
    with tempfile.TemporaryDirectory(prefix="cadrebot-web-") as folder:
        path = Path(folder) / "export.xlsx"
        async with web.db.read() as session:
            await write_xlsx(
                session=session,
                campaign_id=campaign.id,
                as_of=now,
                output=path,
                root_path=unit.path if unit is not None else None,
                lang=viewer.lang,
                approved_only=approved,
            )
        body = path.read_bytes()
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


async def nudge(request: Request) -> Response:
    """POST /unit/<id>/nudge: the same nudge as /nhacnho (at most one a day per unit)."""
    got = await posted(request, _viewer)
    if isinstance(got, Response):
        return got
    viewer, _form = got
    unit = await _visible_unit(request, viewer)
    if unit is None or unit.id is None or not viewer.watch_scope.sees(unit):
        return refused(viewer)
    web = web_of(request)
    async with web.db.write() as session:
        reply = await nudge_reachable(
            session=session, unit_id=unit.id, by_person_id=viewer.person_id, now=web.clock()
        )
    return RedirectResponse(f"/unit/{unit.id}?nudge={reply.outcome.value}#nudge", status_code=303)


async def chart(request: Request) -> Response:
    """GET /chart.png: the weekly digest's chart of the viewer's units (the same image the digest
    sends), drawn now; only for people who get a digest (admins and supervisors)."""
    from scheduler.digest import digest_data
    from scheduler.digest_chart import render_chart

    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    web = web_of(request)
    async with web.db.read() as session:
        data = await digest_data(session=session, person_id=viewer.person_id, now=web.clock())
    if data is None:
        return refused(viewer)
    return Response(render_chart(replace(data, lang=viewer.lang)), media_type="image/png")
