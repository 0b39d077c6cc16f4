"""The web console with several workers on PostgreSQL (#16.5): two console apps, each built by
`bot.web.app.build_app` on its own engine and connection pool (as two processes would be), on
one database schema, each with settings loaded on its own. A /web link issued through one opens
on the other and then on neither again; the session cookie and the CSRF token one worker gave
are accepted by the other; "nhắc đơn vị này" posted to both at once queues the nudge once.
Runs only when CADREBOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, text
from sqlmodel import col

from bot.web.app import build_app
from bot.web.links import create_web_link
from storage.db import Database, create_engine
from storage.models import Outbox
from storage.settings import load_settings
from tests.conftest import POSTGRES_URL
from tests.report_fixtures import NOW
from tests.web_fixtures import BASE, BOT_TOKEN, WebWorld, build_web_world, csrf_from, token_of

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


@pytest.fixture
async def web(db: Database) -> WebWorld:
    return await build_web_world(db)


@pytest.fixture
async def second_db(web: WebWorld) -> AsyncIterator[Database]:
    """Another engine on the `db` fixture's schema: the second worker's own pool."""
    async with web.db.read() as session:
        schema = (await session.execute(text("SELECT current_schema()"))).scalar_one()
    assert POSTGRES_URL
    other = Database(create_engine(POSTGRES_URL, search_path=str(schema)))
    try:
        yield other
    finally:
        await other.dispose()


def _worker(db: Database) -> httpx.AsyncClient:
    """One worker: the app as `cadrebot web` builds it, with settings loaded by this worker."""
    settings = load_settings(web_url=BASE, telegram_token=BOT_TOKEN)
    app = build_app(db, settings, clock=lambda: NOW)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.fixture
async def workers(web: WebWorld, second_db: Database) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with _worker(web.db) as one, _worker(second_db) as two:
        yield [one, two]


async def test_a_link_from_one_worker_signs_in_on_the_other(
    web: WebWorld, second_db: Database, workers: list[httpx.AsyncClient]
) -> None:
    one, two = workers
    async with second_db.write() as session:  # issued through the second worker
        url = await create_web_link(
            session=session, person_id=web.world.supervisor_id, now=NOW, base_url=BASE
        )
    token = token_of(url)
    page = await one.get(f"/w/{token}")
    assert page.status_code == 200
    signed = await one.post("/w", data={"token": token})
    assert signed.status_code == 303, signed.text
    cookie = signed.cookies.get("cadrebot_session")
    assert cookie
    # Used once: the other worker refuses it too.
    again = await two.post("/w", data={"token": token})
    assert again.status_code != 303 and "cadrebot_session" not in again.cookies
    # The first worker's session cookie is good on the second (no per-process key).
    two.cookies.set("cadrebot_session", cookie)
    home = await two.get("/")
    assert home.status_code == 200 and "Phạm Văn E" in home.text
    # The CSRF token the first worker put in its page is accepted by the second.
    one.cookies.set("cadrebot_session", cookie)
    csrf = csrf_from((await one.get("/")).text)
    sent = await two.post(f"/unit/{web.world.unit_id}/nudge", data={"csrf": csrf})
    assert sent.status_code == 303 and "nudge=queued" in sent.headers["location"]
    wrong = await two.post(f"/unit/{web.world.unit_id}/nudge", data={"csrf": "0" * 64})
    assert wrong.status_code == 403


async def _nudges(db: Database) -> list[tuple[int | None, str]]:
    async with db.read() as session:
        rows = await session.execute(
            select(col(Outbox.person_id), col(Outbox.kind)).where(col(Outbox.kind) == "nudge")
        )
        return [(person, kind) for person, kind in rows.all()]


async def test_a_nudge_posted_to_both_workers_at_once_is_queued_once(
    web: WebWorld, workers: list[httpx.AsyncClient]
) -> None:
    one, two = workers
    async with web.db.write() as session:
        url = await create_web_link(
            session=session, person_id=web.world.supervisor_id, now=NOW, base_url=BASE
        )
    signed = await one.post("/w", data={"token": token_of(url)})
    cookie = signed.cookies["cadrebot_session"]
    for worker in workers:
        worker.cookies.set("cadrebot_session", cookie)
    csrf = csrf_from((await one.get("/")).text)
    path = f"/unit/{web.world.unit_id}/nudge"
    answers = await asyncio.gather(
        one.post(path, data={"csrf": csrf}), two.post(path, data={"csrf": csrf})
    )
    outcomes = sorted(a.headers.get("location", str(a.status_code)) for a in answers)
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    assert ["already_today" in outcomes[0], "queued" in outcomes[1]] == [True, True], outcomes
    # One row for each of the unit's reporters, none twice.
    nudged = [person for person, _kind in await _nudges(web.db)]
    assert web.world.reporter_id in nudged and len(nudged) == len(set(nudged))
