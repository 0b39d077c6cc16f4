"""GET /evidence/<id>: one evidence file of a report, inline (a photo, a PDF).

Two ways in, one check: a signed link from a chat (`bot.web.evidence_links`: /donvi), or the
viewer's session (the links on the unit page). Either way the server reads the person's scope
as the database says now and serves the file only if it sees the report's unit
(`storage.evidence.evidence_file`); a forged, altered or expired link, a stranger, a unit
outside the scope and a file that does not exist get a Vietnamese page (403 / 410 / 404)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bot.web.auth import load_viewer, signed_out, web_of
from bot.web.evidence_links import Verdict, check_link
from bot.web.render import message
from storage.access import Scope, scope_of
from storage.evidence import evidence_file
from storage.i18n import pick_language
from storage.models import Person

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


def _refused(lang: str, verdict: Verdict = Verdict.REFUSED) -> Response:
    status = 410 if verdict is Verdict.EXPIRED else 403
    return message("evidence.link.title", f"evidence.link.{verdict.value}", lang, status=status)


async def evidence_page(request: Request) -> Response:
    web = web_of(request)
    raw = str(request.path_params.get("evidence_id", ""))
    default = web.settings.language
    if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
        return _refused(default)
    evidence_id = int(raw)
    query = request.query_params
    if "s" in query:  # a signed link from a chat
        verdict, person_id = check_link(
            web.settings,
            evidence_id=evidence_id,
            person=query.get("p", ""),
            expires=query.get("e", ""),
            signature=query.get("s", ""),
            now=web.clock(),
        )
        if verdict is not Verdict.OK or person_id is None:
            return _refused(default, verdict)
        async with web.db.read() as session:
            person = await session.get(Person, person_id)
            lang = pick_language(person.language if person else None, default)
            scope: Scope = await scope_of(session=session, person_id=person_id)
    else:
        viewer = await load_viewer(request)
        if viewer is None:
            return signed_out()
        lang, scope = viewer.lang, viewer.scope
    async with web.db.read() as session:
        found = await evidence_file(
            session=session,
            folder=Path(web.settings.evidence_dir),
            scope=scope,
            evidence_id=evidence_id,
        )
    if found is None:  # outside the scope, or no such file: the same answer
        return _refused(lang)
    row, path = found
    name = f"minh-chung-{row.id}.{EXTENSIONS.get(row.content_type, 'bin')}"
    return FileResponse(
        path, media_type=row.content_type, filename=name, content_disposition_type="inline"
    )
