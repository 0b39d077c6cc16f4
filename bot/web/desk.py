"""The department's desk (admins): uploads, the campaign list and new campaigns (one campaign's
page, its edit form and open/close: bot.web.campaign_page), who has joined. Uploads are for
every admin, each row checked against their subtrees (`bot.web.uploads`); campaigns follow
`may_manage`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.auth import Viewer, admin_viewer, posted, refused, web_of
from bot.web.campaign_form import (
    TEMPLATE_FIELD,
    Filled,
    blank_values,
    chosen_template,
    create_campaign,
    deadline_name,
    read_form,
    template,
    template_label,
)
from bot.web.render import page
from bot.web.uploads import KINDS, SUFFIXES, Outcome, Problem, run_upload
from storage.access import admin_scope
from storage.campaign_status import may_manage, status_label
from storage.campaigns import fitting_templates, list_campaigns, template_for_tree
from storage.i18n import t
from storage.i18n.formatting import level_label, name_in
from storage.models import Campaign, Level
from storage.units import levels_in_use, list_levels
from storage.web_views import join_status

CHUNK = 1024 * 1024


async def _upload_admin(request: Request) -> Viewer | Response:
    """An admin asking for a known kind of upload."""
    viewer = await admin_viewer(request)
    if isinstance(viewer, Viewer) and request.path_params["kind"] not in KINDS:
        return refused(viewer)
    return viewer


async def _campaign_rows(request: Request, viewer: Viewer) -> list[tuple[Campaign, bool]]:
    async with web_of(request).db.read() as session:
        campaigns = await list_campaigns(session=session)
        return [
            (c, await may_manage(session=session, scope=viewer.scope, campaign=c))
            for c in campaigns
        ]


async def desk(request: Request) -> Response:
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    async with web_of(request).db.read() as session:
        joined = await join_status(session=session, scope=admin_scope(viewer.scope), limit=0)
    return page("desk.html", viewer.lang, viewer=viewer, joined=joined)


async def upload_form(request: Request) -> Response:
    viewer = await _upload_admin(request)
    if isinstance(viewer, Response):
        return viewer
    kind = request.path_params["kind"]
    campaigns = [c for c, _ in await _campaign_rows(request, viewer)]
    return page(
        "upload.html",
        viewer.lang,
        viewer=viewer,
        kind=kind,
        campaigns=campaigns,
        outcome=None,
    )


async def upload(request: Request) -> Response:
    got = await posted(request, _upload_admin, files=True)
    if isinstance(got, Response):
        return got
    viewer, form = got
    try:
        return await _import(request, viewer, request.path_params["kind"], form)
    finally:
        await form.close()


async def _import(request: Request, viewer: Viewer, kind: str, form: FormData) -> Response:
    campaigns = [c for c, _ in await _campaign_rows(request, viewer)]
    context = {"viewer": viewer, "kind": kind, "campaigns": campaigns}
    file = form.get("file")
    name = (file.filename or "") if isinstance(file, UploadFile) else ""
    suffix = Path(name).suffix.lower()
    if not isinstance(file, UploadFile) or suffix not in SUFFIXES:
        outcome = Outcome([Problem(1, t("web.upload.bad_type", viewer.lang))])
        return page("upload.html", viewer.lang, status=400, outcome=outcome, **context)
    raw = str(form.get("campaign", ""))
    wanted = raw.isascii() and raw.isdigit() and len(raw) < 12
    campaign_id = int(raw) if wanted and any(c.id == int(raw) for c in campaigns) else None
    web = web_of(request)
    with tempfile.TemporaryDirectory(prefix="cadrebot-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as handle:
            while chunk := await file.read(CHUNK):
                handle.write(chunk)
        outcome = await run_upload(
            web.db,
            kind,
            path,
            now=web.clock(),
            lang=viewer.lang,
            scope=viewer.scope,
            campaign_id=campaign_id,
        )
    status = 422 if outcome.problems else 200
    return page("upload.html", viewer.lang, status=status, outcome=outcome, **context)


async def campaigns(request: Request) -> Response:
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    rows = [
        (c, manage, status_label(c.status, viewer.lang))
        for c, manage in await _campaign_rows(request, viewer)
    ]
    changed = request.query_params.get("changed", "")
    return page("campaigns.html", viewer.lang, viewer=viewer, rows=rows, changed=changed)


async def joined(request: Request) -> Response:
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    async with web_of(request).db.read() as session:
        status = await join_status(session=session, scope=admin_scope(viewer.scope))
    return page("joined.html", viewer.lang, viewer=viewer, joined=status)


async def _tree(request: Request) -> tuple[dict[str, Level], list[str]]:
    """The tree's levels and the built-in templates that fit them, the one its units call for
    first (`template_for_tree`: no unit at the huyện level, the two-level one)."""
    async with web_of(request).db.read() as session:
        levels = {lv.code: lv for lv in await list_levels(session=session)}
        used = await levels_in_use(session=session)
    fitting = fitting_templates(levels)
    preferred = template_for_tree(used)
    if preferred in fitting:
        fitting = [preferred, *(name for name in fitting if name != preferred)]
    return levels, fitting


async def _form_page(
    request: Request, viewer: Viewer, filled: Filled, status: int = 200
) -> Response:
    """The form for `filled.template`, with the choice among the templates that fit the tree
    (none fitting: the form is not offered, the page says why)."""
    levels, fitting = await _tree(request)
    deliverables = [
        (
            name_in(item, viewer.lang),
            [
                (deadline_name(item.key, code), level_label(levels[code], viewer.lang))
                for code in item.deadlines
                if code in levels
            ],
        )
        for item in (template(filled.template).deliverables if fitting else [])
    ]
    known = ", ".join(level_label(level, viewer.lang) for level in levels.values()) or "—"
    return page(
        "campaign_new.html",
        viewer.lang,
        status=status,
        viewer=viewer,
        values=filled.values,
        problems=filled.problems,
        deliverables=deliverables,
        allowed=viewer.scope.whole_tree,
        template_field=TEMPLATE_FIELD,
        chosen=filled.template,
        templates=[(name, template_label(name, viewer.lang)) for name in fitting],
        tree_levels=known,
    )


async def campaign_new(request: Request) -> Response:
    """The form; `?template=` picks one of the templates that fit the tree (the first when it
    names none or one that does not fit)."""
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    _, fitting = await _tree(request)
    raw = request.query_params.get(TEMPLATE_FIELD, "")
    name = chosen_template(raw, fitting) or chosen_template("", fitting)
    if name is None:  # no built-in template fits: the page says so
        return await _form_page(request, viewer, Filled({}))
    return await _form_page(request, viewer, Filled(blank_values(name), template=name))


async def campaign_create(request: Request) -> Response:
    got = await posted(request, admin_viewer)
    if isinstance(got, Response):
        return got
    viewer, form = got
    if not viewer.scope.whole_tree:
        return refused(viewer)
    levels, fitting = await _tree(request)
    if not fitting:
        return await _form_page(request, viewer, Filled({}), status=422)
    names = {code: level_label(level, viewer.lang) for code, level in levels.items()}
    filled, definition = read_form(form, viewer.lang, names, fitting)
    if definition is None:
        return await _form_page(request, viewer, filled, status=422)
    web = web_of(request)
    async with web.db.write() as session:
        created = await create_campaign(
            session=session,
            definition=definition,
            now=web.clock(),
            actor=viewer.person_id,
            lang=viewer.lang,
        )
    if isinstance(created, list):
        filled.problems.extend(created)
        return await _form_page(request, viewer, filled, status=422)
    return RedirectResponse(f"/desk/campaigns?changed={created.id}", status_code=303)
