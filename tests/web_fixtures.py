"""A world for the web console tests: build_world's province > district > CS1, CS2 plus a
whole-tree admin, a supervisor who follows CS2 only, a report of CS1 in two versions, a Telegram
account for the district's supervisor; the app on that database with a fixed clock; a helper
that signs a person in through a one-time link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
from starlette.applications import Starlette

from bot.web.app import build_app
from bot.web.links import create_web_link
from storage.db import Database
from storage.models import ROLE_ADMIN, ROLE_SUPERVISOR, ChatIdentity, Person, Unit
from storage.reports import save_report, update_report
from storage.settings import Settings, load_settings
from tests.factories import make_person, pk
from tests.report_fixtures import NOW, World, build_world

BOT_TOKEN = "123456:TEST-token-for-the-web-console"
SUPERVISOR_TELEGRAM_ID = 777001
BASE = "http://testserver"
SESSION = {
    "session_date": date(2016, 8, 28),
    "duration_halfdays": 2,
    "members": 30,
    "attended": 25,
    "nonmembers_attended": None,
    "presenter": "Đ/c Trần Văn B",
    "essays": 20,
}


@dataclass
class WebWorld:
    world: World
    db: Database
    admin_id: int
    other_supervisor_id: int  # follows CS2 only
    report_id: int  # CS1's study-session report, two versions
    settings: Settings


async def build_web_world(db: Database) -> WebWorld:
    world = await build_world(db)
    async with db.write() as session:
        admin = await make_person(session, "Hoàng Thị Quản", roles=[(ROLE_ADMIN, None)])
        cs2 = await session.get(Unit, world.other_unit_id)
        other = await make_person(session, "Vũ Văn Theo", roles=[(ROLE_SUPERVISOR, cs2)])
        reporter = await session.get(Person, world.reporter_id)
        assert reporter is not None
        reporter.phone = "0912345678"
        double = await session.get(Person, world.double_id)
        assert double is not None
        double.phone = "0987654321"  # the secretary of CS2 (late), tap-to-call
        session.add(
            ChatIdentity(
                person_id=world.supervisor_id,
                channel="telegram",
                external_id=str(SUPERVISOR_TELEGRAM_ID),
                chat_id=str(SUPERVISOR_TELEGRAM_ID),
                bound_at=NOW - timedelta(days=30),
            )
        )
        session.add(
            ChatIdentity(
                person_id=world.reporter_id,
                channel="zalo",
                external_id="zalo-a",
                chat_id="zalo-a",
                bound_at=NOW - timedelta(days=30),
            )
        )
        report = await save_report(
            session=session,
            unit_id=world.unit_id,
            deliverable_id=world.deliverables["hoi_nghi"],
            answers=SESSION,
            person_id=world.reporter_id,
            channel="telegram",
            now=NOW - timedelta(days=40),
        )
        await update_report(
            session=session,
            report_id=pk(report),
            answers={**SESSION, "essays": 24},
            person_id=world.reporter_id,
            channel="zalo",
            now=NOW - timedelta(days=2),
        )
    settings = load_settings(web_url=BASE, telegram_token=BOT_TOKEN)
    return WebWorld(world, db, pk(admin), pk(other), pk(report), settings)


def app_of(web: WebWorld) -> Starlette:
    return build_app(web.db, web.settings, clock=lambda: NOW)


async def client_of(web: WebWorld) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_of(web))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def link_for(web: WebWorld, person_id: int) -> str:
    async with web.db.write() as session:
        return await create_web_link(
            session=session, person_id=person_id, now=NOW, base_url=web.settings.web_url
        )


def token_of(url: str) -> str:
    match = re.search(r"/w/([A-Za-z0-9_-]+)$", url)
    assert match is not None
    return match[1]


async def sign_in(client: httpx.AsyncClient, web: WebWorld, person_id: int) -> str:
    """Sign in through a fresh link; returns the session's CSRF token (from the page)."""
    url = await link_for(web, person_id)
    response = await client.post("/w", data={"token": token_of(url)})
    assert response.status_code == 303, response.text
    home = await client.get("/")
    return csrf_from(home.text)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match is not None, html[:500]
    return match[1]
