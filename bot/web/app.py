"""The web console's Starlette application: routes, static files, security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.web import (
    assign,
    assign_tree,
    campaign_page,
    dashboard,
    desk,
    evidence,
    invites,
    login,
    report_page,
    review,
)
from bot.web.auth import Web
from bot.web.render import STATIC, message
from storage.clock import Clock, system_clock
from storage.db import Database
from storage.settings import Settings

# Telegram Web shows a Mini App in a frame; nothing else may frame the console.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
)


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def not_found(request: Request, exc: Exception) -> Response:
    return message("web.notfound.title", "web.notfound.body", status=404)


async def server_error(request: Request, exc: Exception) -> Response:
    return message("web.error.title", "web.error.body", status=500)


def build_app(db: Database, settings: Settings, clock: Clock = system_clock) -> Starlette:
    routes = [
        Route("/healthz", healthz),
        Route("/", dashboard.home),
        Route("/unit/{unit_id}", dashboard.unit_page),
        Route("/unit/{unit_id}/nudge", dashboard.nudge, methods=["POST"]),
        Route("/unit/{unit_id}/assign", assign.change, methods=["POST"]),
        Route("/late", dashboard.late),
        Route("/review", review.review_page),
        Route("/review/{report_id}/{action}", review.decide, methods=["POST"]),
        Route("/chart.png", dashboard.chart),
        Route("/export", dashboard.export),
        Route("/evidence/{evidence_id}", evidence.evidence_page),
        Route("/w/{token}", login.link_page),
        Route("/w", login.link_login, methods=["POST"]),
        Route("/tg", login.miniapp_page),
        Route("/tg", login.miniapp_login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/desk", desk.desk),
        Route("/desk/upload/{kind}", desk.upload_form),
        Route("/desk/upload/{kind}", desk.upload, methods=["POST"]),
        Route("/desk/campaigns", desk.campaigns),
        Route("/desk/campaigns/new", desk.campaign_new),
        Route("/desk/campaigns/new", desk.campaign_create, methods=["POST"]),
        Route("/desk/campaigns/{campaign_id}", campaign_page.campaign_page),
        Route("/desk/campaigns/{campaign_id}", campaign_page.campaign_save, methods=["POST"]),
        Route("/desk/campaigns/{campaign_id}/status", campaign_page.status_confirm),
        Route("/desk/campaigns/{campaign_id}/campaign.yaml", campaign_page.campaign_file),
        Route(
            "/desk/campaigns/{campaign_id}/status",
            campaign_page.campaign_status,
            methods=["POST"],
        ),
        Route("/desk/joined", desk.joined),
        Route("/desk/assign", assign_tree.assign_page),
        Route("/desk/assign", assign_tree.assign_save, methods=["POST"]),
        Route("/desk/report", report_page.report_page),
        Route("/desk/report.docx", report_page.report_docx_download),
        Route("/desk/invites", invites.invites_form),
        Route("/desk/invites", invites.invites_sheet, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: not_found, 500: server_error},
    )
    app.state.web = Web(db=db, settings=settings, clock=clock)
    return app
