"""Evidence served by the web console (`/evidence/<id>`): a signed link from /donvi opens the
file for its person while their scope sees the unit; the unit page lists the files for the
signed-in viewer. A forged or altered signature, an expired link, a person outside the scope, a
stranger without a session and a file that does not exist are refused with a Vietnamese page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.web.app import build_app
from bot.web.evidence_links import LINK_TTL, evidence_url
from storage.db import Database
from storage.evidence import attach_evidence
from storage.i18n import t
from storage.settings import Settings
from tests.report_fixtures import NOW
from tests.telegram_harness import TelegramHarness, TgUser
from tests.web_fixtures import BASE, SUPERVISOR_TELEGRAM_ID, WebWorld, build_web_world, sign_in

JPEG = b"\xff\xd8\xff\xe0" + b"bien ban hoi nghi chi bo" * 30


@dataclass
class Served:
    web: WebWorld
    settings: Settings
    evidence_id: int

    def client(self, now: datetime = NOW) -> httpx.AsyncClient:
        app = build_app(self.web.db, self.settings, clock=lambda: now)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    def link(self, person_id: int) -> str:
        url = evidence_url(self.settings, self.evidence_id, person_id=person_id, now=NOW)
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"


@pytest.fixture
async def served(db: Database, tmp_path: Path) -> AsyncIterator[Served]:
    web = await build_web_world(db)
    settings = web.settings.model_copy(update={"evidence_dir": str(tmp_path / "evidence")})
    async with db.write() as session:
        row = await attach_evidence(
            session=session, folder=Path(settings.evidence_dir), report_id=web.report_id,
            data=JPEG, person_id=web.world.reporter_id, channel="zalo", now=NOW,
        )  # fmt: skip
    assert row is not None and row.id is not None
    web.settings = settings
    yield Served(web, settings, row.id)


def refused_page(response: httpx.Response, key: str, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert t(key, "vi") in response.text
    assert JPEG not in response.content


async def test_a_signed_link_opens_the_file_for_its_person(served: Served) -> None:
    async with served.client() as client:
        response = await client.get(served.link(served.web.world.supervisor_id))
    assert response.status_code == 200 and response.content == JPEG
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["cache-control"] == "no-store"


async def test_forged_altered_expired_and_out_of_scope_links_are_refused(served: Served) -> None:
    web = served.web
    good = served.link(web.world.supervisor_id)
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    other_person = good.replace(f"p={web.world.supervisor_id}&", f"p={web.admin_id}&")
    other_file = good.replace(
        f"/evidence/{served.evidence_id}?", f"/evidence/{served.evidence_id + 1}?"
    )
    later = re.sub(r"e=(\d+)", lambda m: f"e={int(m[1]) + 3600}", good)
    async with served.client() as client:
        for url in (forged, other_person, other_file, later, good.replace("&s=", "&s=%D9%A1")):
            refused_page(await client.get(url), "evidence.link.refused", 403)
        # validly signed, but CS1 is outside the scope of the supervisor who follows CS2 only
        refused_page(
            await client.get(served.link(web.other_supervisor_id)), "evidence.link.refused", 403
        )
        refused_page(await client.get("/evidence/abc?p=1&e=1&s=x"), "evidence.link.refused", 403)
    async with served.client(now=NOW + LINK_TTL + timedelta(seconds=1)) as client:
        refused_page(await client.get(good), "evidence.link.expired", 410)


async def test_the_unit_page_lists_the_files_and_the_session_is_checked(served: Served) -> None:
    web = served.web
    path = f"/evidence/{served.evidence_id}"
    async with served.client() as client:
        stranger = await client.get(path)  # no session, no signature
        assert stranger.status_code == 401 and JPEG not in stranger.content
        await sign_in(client, web, web.world.supervisor_id)
        page = await client.get(f"/unit/{web.world.unit_id}")
        assert t("evidence.web.title", "vi", count=1) in page.text
        assert f'href="{path}"' in page.text
        opened = await client.get(path)
        assert opened.status_code == 200 and opened.content == JPEG
        refused_page(
            await client.get(f"/evidence/{served.evidence_id + 99}"), "evidence.link.refused", 403
        )
    async with served.client() as client:
        await sign_in(client, web, web.other_supervisor_id)  # follows CS2 only
        refused_page(await client.get(path), "evidence.link.refused", 403)


async def test_donvi_sends_links_that_open_the_file(served: Served) -> None:
    harness = await TelegramHarness.start(
        db=served.web.db, clock=lambda: NOW, settings=served.settings
    )
    try:
        said = (await harness.send("/donvi CS1", TgUser(SUPERVISOR_TELEGRAM_ID))).text()
    finally:
        await harness.stop()
    assert "Minh chứng: 1 tệp" in said
    assert t("evidence.unit.valid", "vi", minutes=30) in said
    [url] = re.findall(rf"{BASE}/evidence/\S+", said)
    parts = urlsplit(url.replace("&amp;", "&"))
    async with served.client() as client:
        response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200 and response.content == JPEG


async def test_without_the_web_console_donvi_counts_only(served: Served) -> None:
    settings = served.settings.model_copy(update={"web_url": None})
    harness = await TelegramHarness.start(db=served.web.db, clock=lambda: NOW, settings=settings)
    try:
        said = (await harness.send("/donvi CS1", TgUser(SUPERVISOR_TELEGRAM_ID))).text()
    finally:
        await harness.stop()
    assert "Minh chứng: 1 tệp" in said and "/evidence/" not in said


def _url_signed_in_another_process(settings: Settings, evidence_id: int, person_id: int) -> str:
    """`evidence_url` as another worker's process computes it, from the same environment."""
    code = (
        "import sys; from datetime import datetime;"
        " from bot.web.evidence_links import evidence_url;"
        " from storage.settings import load_settings;"
        " print(evidence_url(load_settings(), int(sys.argv[1]), person_id=int(sys.argv[2]),"
        " now=datetime.fromisoformat(sys.argv[3])))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADREBOT_")}
    env["CADREBOT_WEB_URL"] = str(settings.web_url)
    assert settings.telegram_token is not None
    env["CADREBOT_TELEGRAM_TOKEN"] = settings.telegram_token.get_secret_value()
    done = subprocess.run(
        [sys.executable, "-c", code, str(evidence_id), str(person_id), NOW.isoformat()],
        env=env, capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    return done.stdout.strip()


async def test_a_link_signed_by_another_worker_process_opens(served: Served) -> None:
    """Without CADREBOT_LINK_SECRET the key comes from the bot token every worker has, not from
    the process: the link /donvi sent from one worker opens on the console of another."""
    person = served.web.world.supervisor_id
    url = _url_signed_in_another_process(served.settings, served.evidence_id, person)
    assert url == evidence_url(served.settings, served.evidence_id, person_id=person, now=NOW)
    parts = urlsplit(url)
    async with served.client() as client:
        response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200 and response.content == JPEG
