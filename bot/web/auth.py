"""Who is looking: the session cookie, the viewer's scope as the database says now, CSRF checks
on every state-changing form, and the capped request body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from bot.web.render import message
from storage.access import Scope, scope_of
from storage.clock import Clock
from storage.db import Database
from storage.i18n import pick_language
from storage.models import Person
from storage.settings import Settings
from storage.web_auth import SESSION_TTL, csrf_ok, csrf_token, session_person

COOKIE = "cadrebot_session"
# Largest body a form or upload may send (checked before it is read in full).
MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Web:
    """What every route needs, kept on `app.state.web`."""

    db: Database
    settings: Settings
    clock: Clock

    @property
    def secure_cookie(self) -> bool:
        return (self.settings.web_url or "").startswith("https://")


@dataclass(frozen=True)
class Viewer:
    person_id: int
    name: str
    lang: str
    scope: Scope
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.scope.is_admin

    @property
    def watch_scope(self) -> Scope:
        """Admin subtrees and followed units (a reporter's own unit is not a dashboard)."""
        return replace(self.scope, reporter_unit_ids=())


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def client_key(request: Request) -> str:
    """The client's address as the server sees it (uvicorn takes X-Forwarded-For from a trusted
    proxy, see docs/operations.md)."""
    return request.client.host if request.client is not None else "?"


async def load_viewer(request: Request) -> Viewer | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    web = web_of(request)
    async with web.db.read() as session:
        person_id = await session_person(session=session, token=token, now=web.clock())
        if person_id is None:
            return None
        person = await session.get(Person, person_id)
        scope = await scope_of(session=session, person_id=person_id)
    if person is None:
        return None
    return Viewer(
        person_id=person_id,
        name=person.full_name,
        lang=pick_language(person.language),
        scope=scope,
        csrf=csrf_token(token),
    )


def signed_out() -> Response:
    return message("web.signin.title", "web.signin.body", status=401)


def refused(viewer: Viewer) -> Response:
    """Not in the viewer's scope, or no such thing: the same answer (nothing is revealed)."""
    return message("web.refused.title", "web.refused.body", viewer.lang, status=404, viewer=viewer)


# A page's first check: the viewer it may serve, or the page to answer instead.
Guard = Callable[[Request], Awaitable["Viewer | Response"]]


async def signed_in(request: Request) -> Viewer | Response:
    viewer = await load_viewer(request)
    return signed_out() if viewer is None else viewer


async def admin_viewer(request: Request) -> Viewer | Response:
    """A signed-in admin; anyone else gets the refusal (the admin desk is not revealed)."""
    viewer = await signed_in(request)
    if isinstance(viewer, Viewer) and not viewer.is_admin:
        return refused(viewer)
    return viewer


def set_session_cookie(response: Response, web: Web, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        secure=web.secure_cookie,
        samesite="lax",
    )


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int = MAX_BODY) -> None:
    """Read the body, refusing it as soon as it passes `limit` bytes (a declared length above it
    is refused before anything is read); later `request.form()` parses what was kept."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    request._body = bytes(body)  # what Request.stream()/form() read from now on


async def checked_form(
    request: Request, viewer: Viewer, *, files: bool = False, fields: int = 50
) -> FormData | Response:
    """The posted form if its body is within MAX_BODY and its CSRF token is this session's;
    otherwise the Vietnamese page that says what went wrong (nothing is done)."""
    try:
        await read_capped(request)
    except BodyTooLarge:
        return message(
            "web.upload.too_big_title", "web.upload.too_big", viewer.lang, status=413, viewer=viewer
        )
    try:
        form = await request.form(max_files=1 if files else 0, max_fields=fields)
    except (MultiPartException, HTTPException):
        return message("web.csrf.title", "web.csrf.body", viewer.lang, status=400, viewer=viewer)
    token = request.cookies.get(COOKIE, "")
    submitted = form.get("csrf")
    if not isinstance(submitted, str) or not csrf_ok(token, submitted):
        await form.close()
        return message("web.csrf.title", "web.csrf.body", viewer.lang, status=403, viewer=viewer)
    return form


async def posted(
    request: Request, guard: Guard = signed_in, *, files: bool = False, fields: int = 50
) -> tuple[Viewer, FormData] | Response:
    """For a POST: `guard`'s viewer and the `checked_form`, or the page to answer instead."""
    viewer = await guard(request)
    if isinstance(viewer, Response):
        return viewer
    form = await checked_form(request, viewer, files=files, fields=fields)
    if isinstance(form, Response):
        return form
    return viewer, form


def now_of(request: Request) -> datetime:
    return web_of(request).clock()
