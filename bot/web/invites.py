"""Invites from the desk: one per unit (bound to the imported people who have not joined yet,
`storage.invite_bulk`), for the units the admin manages (a level, a subtree), handed back as
the printable sheet with QR codes (`bot.invite_sheet`, XLSX set up for A4). The sheet is written
inside the transaction: if it cannot be written, no invite is kept."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from bot.invite_sheet import SheetRow, sheet_rows, write_sheet
from bot.web.auth import Viewer, admin_viewer, posted, refused, web_of
from bot.web.fields import FieldProblem, field_text
from bot.web.render import page
from storage.clock import local_date
from storage.i18n import t
from storage.i18n.formatting import date_text, level_label
from storage.invite_bulk import create_unit_invites
from storage.invites import DEFAULT_TTL
from storage.models import CHANNEL_WEB, ROLE_REPORTER, ROLE_SUPERVISOR, Unit
from storage.units import get_unit, list_levels
from storage.web_views import units_for_invites

ROLES = (ROLE_REPORTER, ROLE_SUPERVISOR)
CHUNK = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _form(request: Request, viewer: Viewer, problem: str = "", status: int = 200) -> Response:
    async with web_of(request).db.read() as session:
        levels = await list_levels(session=session)
    options = [(lv.code, level_label(lv, viewer.lang)) for lv in levels]
    return page(
        "invites.html", viewer.lang, status=status, viewer=viewer, levels=options, problem=problem
    )


async def invites_form(request: Request) -> Response:
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    return await _form(request, viewer)


async def invites_sheet(request: Request) -> Response:
    got = await posted(request, admin_viewer)
    if isinstance(got, Response):
        return got
    viewer, form = got
    role = str(form.get("role", ROLE_REPORTER))
    if role not in ROLES:
        return refused(viewer)
    values: dict[str, str] = {}
    for name, label in (("level", "web.invites.level"), ("under", "web.invites.under")):
        try:
            values[name] = field_text(form, name, limit=64)
        except FieldProblem as refusal:
            message = refusal.message(viewer.lang, t(label, viewer.lang))
            return await _form(request, viewer, message, status=422)
    level, code = values["level"] or None, values["under"]
    scope = replace(viewer.scope, supervised_unit_ids=(), supervised_paths=(), reporter_unit_ids=())
    web = web_of(request)
    now = web.clock()
    lang = viewer.lang
    expires = date_text(local_date(now + DEFAULT_TTL, web.settings.timezone), lang)
    role_name = t(f"people.role.{role}", lang)
    with tempfile.TemporaryDirectory(prefix="cadrebot-invites-") as folder:
        path = Path(folder) / "invites.xlsx"
        async with web.db.write() as session:
            root: Unit | None = None
            if code:
                root = await get_unit(session=session, code=code)
                if root is None or not root.active or not scope.sees(root):
                    problem = t("web.invites.no_unit", lang, code=code[:64])
                    return await _form(request, viewer, problem, status=422)
            units = await units_for_invites(session=session, scope=scope, level=level, root=root)
            labels = {lv.code: level_label(lv, lang) for lv in await list_levels(session=session)}
            rows: list[SheetRow] = []
            for start in range(0, len(units), CHUNK):
                result = await create_unit_invites(
                    session=session,
                    role_kind=role,
                    units=units[start : start + CHUNK],
                    now=now,
                    created_by_person_id=viewer.person_id,
                    channel=CHANNEL_WEB,
                )
                rows += sheet_rows(
                    result.invites,
                    levels=labels,
                    role=role_name,
                    bot_username=web.settings.bot_username,
                    expires=expires,
                )
            if not rows:
                # Nothing to hand out (no unit, or everyone has joined): nothing was created.
                return await _form(request, viewer, t("web.invites.none", lang), status=422)
            title = t("invite.sheet.title", lang, role=role_name, expires=expires)
            write_sheet(path, rows, title=title, lang=lang)
        body = path.read_bytes()
    day = local_date(now, web.settings.timezone).isoformat()
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="ma-moi_{role}_{day}.xlsx"'},
    )
