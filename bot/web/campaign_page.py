"""One campaign on the desk: its page (status, the edit form), saving the form in place, and
opening or closing it after a confirmation page. Only an admin who may manage the campaign
(`storage.campaign_status.may_manage`, as `/dot` and the CLI) sees or changes it; anyone else
gets the refusal, as for a campaign that does not exist. A save that would put the campaign
outside what the admin manages (its scope moved to another subtree, or removed by a subtree
admin) is refused beside the scope field and rolled back."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.auth import Viewer, admin_viewer, posted, refused, web_of
from bot.web.campaign_edit import Layout, read_form, take_problems, values_of
from bot.web.campaign_reader import EditForm
from bot.web.render import page
from storage.campaign_scope import scope_choices
from storage.campaign_status import (
    STATUSES,
    may_manage,
    set_campaign_status,
    status_label,
)
from storage.campaigns import (
    CampaignDefinition,
    DefinitionError,
    LineProblem,
    definition_of,
    definition_text,
    file_name,
    load_campaign,
)
from storage.models import CHANNEL_WEB, Campaign
from storage.units import list_levels

# The edit form's fields: a few per deliverable, level and group row (posted() caps the count).
MAX_FIELDS = 2000


async def _manageable(session: AsyncSession, viewer: Viewer, ident: int | None) -> Campaign | None:
    """The campaign if the viewer may manage it; None for one they may not or that is not."""
    campaign = await session.get(Campaign, ident) if ident is not None else None
    if campaign is None or not await may_manage(
        session=session, scope=viewer.scope, campaign=campaign
    ):
        return None
    return campaign


def campaign_id_of(request: Request) -> int | None:
    raw = str(request.path_params.get("campaign_id", ""))
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


async def _managed(request: Request, viewer: Viewer) -> tuple[Campaign, Layout] | None:
    """The campaign in the path if the viewer may manage it, with the form's layout."""
    async with web_of(request).db.read() as session:
        campaign = await _manageable(session, viewer, campaign_id_of(request))
        if campaign is None:
            return None
        levels = await list_levels(session=session)
        scopes = await scope_choices(session=session, scope=viewer.scope)
    return campaign, Layout.of(definition_of(campaign), levels, viewer.lang, scopes)


def _page(
    viewer: Viewer,
    campaign: Campaign,
    layout: Layout,
    form: EditForm,
    *,
    changed: str = "",
    status: int = 200,
) -> Response:
    return page(
        "campaign.html",
        viewer.lang,
        status=status,
        viewer=viewer,
        campaign=campaign,
        status_text=status_label(campaign.status, viewer.lang),
        layout=layout,
        form=form,
        changed=changed,
    )


async def _shown_campaign(request: Request) -> tuple[Viewer, Campaign, Layout] | Response:
    """For a page: the admin, the campaign they may manage and its layout, or the refusal."""
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    found = await _managed(request, viewer)
    return refused(viewer) if found is None else (viewer, *found)


async def campaign_page(request: Request) -> Response:
    shown = await _shown_campaign(request)
    if isinstance(shown, Response):
        return shown
    viewer, campaign, layout = shown
    form = values_of(definition_of(campaign), layout)
    changed = request.query_params.get("changed", "")
    return _page(viewer, campaign, layout, form, changed=changed)


async def campaign_file(request: Request) -> Response:
    """The campaign as a campaign file (YAML), to keep or load elsewhere."""
    shown = await _shown_campaign(request)
    if isinstance(shown, Response):
        return shown
    definition = definition_of(shown[1])
    disposition = f'attachment; filename="{file_name(definition)}"'
    return Response(
        definition_text(definition),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


async def campaign_save(request: Request) -> Response:
    got = await posted(request, admin_viewer, fields=MAX_FIELDS)
    if isinstance(got, Response):
        return got
    viewer, posted_form = got
    found = await _managed(request, viewer)
    if found is None:
        return refused(viewer)
    campaign, layout = found
    base: CampaignDefinition = definition_of(campaign)
    form, definition = read_form(posted_form, base, layout, viewer.lang)
    if definition is None:
        return _page(viewer, campaign, layout, form, status=422)
    web = web_of(request)
    try:
        async with web.db.write() as session:
            if await _manageable(session, viewer, campaign.id) is None:
                return refused(viewer)
            saved = await load_campaign(
                session=session,
                definition=definition,
                now=web.clock(),
                actor_person_id=viewer.person_id,
                channel=CHANNEL_WEB,
                campaign_id=campaign.id,
            )
            if not await may_manage(session=session, scope=viewer.scope, campaign=saved):
                raise DefinitionError([_not_yours(definition)])  # a scope outside theirs
    except DefinitionError as exc:  # rolled back: nothing written
        take_problems(form, exc.problems, layout, viewer.lang)
        return _page(viewer, campaign, layout, form, status=422)
    return RedirectResponse(f"/desk/campaigns/{campaign.id}?changed=saved", status_code=303)


def _not_yours(definition: CampaignDefinition) -> LineProblem:
    scope = definition.campaign.scope
    code = "scope_not_yours" if scope else "whole_tree_not_yours"
    return LineProblem(None, ("campaign", "scope"), f"campaign.error.{code}", {"code": scope})


async def status_confirm(request: Request) -> Response:
    """The confirmation page before opening or closing (`?to=closed` or `?to=open`)."""
    shown = await _shown_campaign(request)
    if isinstance(shown, Response):
        return shown
    viewer, campaign, _ = shown
    target = request.query_params.get("to", "")
    if target not in STATUSES:
        return refused(viewer)
    if campaign.status == target:
        return RedirectResponse(f"/desk/campaigns/{campaign.id}", status_code=303)
    return page(
        "campaign_confirm.html",
        viewer.lang,
        viewer=viewer,
        campaign=campaign,
        status_text=status_label(campaign.status, viewer.lang),
        target=target,
    )


async def campaign_status(request: Request) -> Response:
    """Open or close (the confirmation page's form); audited by storage.campaign_status."""
    got = await posted(request, admin_viewer)
    if isinstance(got, Response):
        return got
    viewer, form = got
    ident = campaign_id_of(request)
    status = str(form.get("status", ""))
    if ident is None or status not in STATUSES:
        return refused(viewer)
    web = web_of(request)
    async with web.db.write() as session:
        if await _manageable(session, viewer, ident) is None:
            return refused(viewer)
        await set_campaign_status(
            session=session,
            campaign_id=ident,
            status=status,
            now=web.clock(),
            actor_person_id=viewer.person_id,
            channel=CHANNEL_WEB,
        )
    return RedirectResponse(f"/desk/campaigns/{ident}?changed=status", status_code=303)
