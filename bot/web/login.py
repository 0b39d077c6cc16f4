"""Getting in: a one-time link (`/w/<token>`; the page posts it back, so a chat app's link
preview cannot use it up), the Telegram Mini App (`/tg`: initData checked, then the Telegram
account mapped to its person), signing out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.auth import (
    COOKIE,
    client_key,
    posted,
    set_session_cookie,
    web_of,
)
from bot.web.miniapp import validate_init_data
from bot.web.render import message, page
from storage.i18n import pick_language
from storage.models import CHANNEL_TELEGRAM
from storage.people import find_person_by_identity
from storage.web_auth import (
    VIA_LINK,
    VIA_MINIAPP,
    LinkStatus,
    end_session,
    login_throttled,
    record_login_failure,
    redeem_link,
    start_session,
)

LINK_PAGES = {
    LinkStatus.EXPIRED: ("web.link.expired_title", "web.link.expired", 410),
    LinkStatus.USED: ("web.link.used_title", "web.link.used", 410),
    LinkStatus.UNKNOWN: ("web.link.invalid_title", "web.link.invalid", 404),
    LinkStatus.GONE: ("web.link.invalid_title", "web.link.invalid", 404),
}
MAX_FIELD = 8192


def _throttled() -> Response:
    return message("web.throttled.title", "web.throttled.body", status=429)


def _signed_in(request: Request, token: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, web_of(request), token)
    return response


async def link_page(request: Request) -> Response:
    """GET /w/<token>: a page that posts the token (script), or a button without scripts."""
    token = request.path_params["token"]
    return page("login.html", token=token[:MAX_FIELD])


async def _posted(request: Request, name: str) -> str | None:
    if int(request.headers.get("content-length") or 0) > 4 * MAX_FIELD:
        return None
    form = await request.form(max_files=0, max_fields=5)
    value = form.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_FIELD else None


async def link_login(request: Request) -> Response:
    """POST /w: use the link once and start a session; refused links say what to do."""
    web = web_of(request)
    now, client = web.clock(), client_key(request)
    token = await _posted(request, "token") or ""
    async with web.db.write() as session:
        if await login_throttled(session=session, client=client, now=now):
            return _throttled()
        outcome = await redeem_link(session=session, token=token, now=now)
        if outcome.status is LinkStatus.OK and outcome.person_id is not None:
            cookie = await start_session(
                session=session, person_id=outcome.person_id, now=now, via=VIA_LINK
            )
        else:
            await record_login_failure(
                session=session, client=client, reason=outcome.status.value, now=now
            )
    if outcome.status is not LinkStatus.OK:
        title, body, status = LINK_PAGES[outcome.status]
        return message(title, body, status=status)
    return _signed_in(request, cookie)


async def miniapp_page(request: Request) -> Response:
    """GET /tg: the Mini App's first page; its script posts Telegram's initData to /tg."""
    return page("miniapp.html")


async def miniapp_login(request: Request) -> Response:
    """POST /tg: a genuine, recent initData of a known Telegram account starts a session."""
    web = web_of(request)
    now, client = web.clock(), client_key(request)
    init_data = await _posted(request, "init_data") or ""
    secret = web.settings.telegram_token
    token = secret.get_secret_value() if secret is not None else ""
    async with web.db.write() as session:
        if await login_throttled(session=session, client=client, now=now):
            return _throttled()
        user = validate_init_data(init_data, bot_token=token, now=now)
        person = None
        if user is not None:
            person = await find_person_by_identity(
                session=session, channel=CHANNEL_TELEGRAM, external_id=str(user.telegram_id)
            )
        if user is None or person is None or person.id is None:
            await record_login_failure(
                session=session,
                client=client,
                reason="miniapp_forged" if user is None else "miniapp_unknown",
                now=now,
            )
            lang = pick_language(user.language_code if user is not None else None)
            key = "web.miniapp.invalid" if user is None else "web.miniapp.unknown"
            return message("web.miniapp.title", key, lang, status=403)
        cookie = await start_session(session=session, person_id=person.id, now=now, via=VIA_MINIAPP)
    return _signed_in(request, cookie)


async def logout(request: Request) -> Response:
    got = await posted(request)
    if isinstance(got, Response):
        return got
    viewer, _form = got
    web = web_of(request)
    async with web.db.write() as session:
        await end_session(session=session, token=request.cookies.get(COOKIE, ""), now=web.clock())
    response = message("web.logout.title", "web.logout.body", viewer.lang)
    response.delete_cookie(COOKIE, path="/")
    return response
