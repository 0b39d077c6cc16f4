"""The web console in a real headless browser: Debian's Chromium (/usr/bin/chromium, installed by
.ci/run) driven by Playwright; never a browser Playwright downloads. The server is the real one
(uvicorn in the test's event loop, `bot.web.server.WebServer`), started on a free port and
waited for through /healthz under a generous limit.

SQLite only: the same pages on PostgreSQL are covered by tests/test_web_pages.py."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from docx import Document
from sqlalchemy import select
from sqlmodel import col

from bot.web.miniapp import sign
from bot.web.server import WebServer
from storage.db import Database, create_engine
from storage.models import Unit, metadata
from storage.settings import load_settings
from tests.report_fixtures import NOW
from tests.web_fixtures import (
    BOT_TOKEN,
    SUPERVISOR_TELEGRAM_ID,
    WebWorld,
    build_web_world,
    link_for,
)

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parent.parent / "docs"
READY_LIMIT = 60.0

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (apt-get install chromium)"
)


@dataclass
class Site:
    web: WebWorld
    base: str
    browser: object


async def _ready(base: str) -> None:
    """Until /healthz answers (a readiness signal, not a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_LIMIT
    async with httpx.AsyncClient(timeout=120.0) as client:
        while True:
            try:
                if (await client.get(f"{base}/healthz")).text == "ok":
                    return
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise TimeoutError("the web console did not become ready")
            await asyncio.sleep(0.05)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    from playwright.async_api import async_playwright

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    db = Database(engine)
    web = await build_web_world(db)
    server = WebServer(db, web.settings, clock=lambda: NOW, port=0)
    await server.start()
    base = f"http://127.0.0.1:{server.bound_port}"
    web.settings = load_settings(web_url=base, telegram_token=BOT_TOKEN)
    try:
        await _ready(base)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            try:
                yield Site(web, base, browser)
            finally:
                await browser.close()
    finally:
        await server.stop()
        await db.dispose()


async def _page(site: Site, width: int = 360) -> object:
    context = await site.browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": width, "height": 780}, locale="vi-VN"
    )
    return await context.new_page()


async def _sign_in(site: Site, person_id: int) -> object:
    page = await _page(site)
    url = await link_for(site.web, person_id)
    await page.goto(url.replace(site.web.settings.web_url or "", site.base))  # type: ignore[attr-defined]
    await page.wait_for_url(f"{site.base}/")  # type: ignore[attr-defined]
    return page


async def test_signed_link_drill_down_and_screenshot(site: Site, tmp_path: Path) -> None:
    world = site.web.world
    page = await _sign_in(site, site.web.admin_id)
    assert "Hoàng Thị Quản" in await page.inner_text("footer")  # type: ignore[attr-defined]
    # Province -> district -> grassroots, by tapping the unit cards.
    await page.click("a.name:has-text('Tỉnh ủy')")  # type: ignore[attr-defined]
    await page.wait_for_url(f"**/unit/{world.province_id}*")  # type: ignore[attr-defined]
    # The unit pages fit the phone too: the province's district rows, then a unit's versions.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # type: ignore[attr-defined]
    await page.click("a.name:has-text('Đơn vị H')")  # type: ignore[attr-defined]
    await page.click("a.name:has-text('Đảng bộ xã Đông')")  # type: ignore[attr-defined]
    await page.wait_for_url(f"**/unit/{world.unit_id}*")  # type: ignore[attr-defined]
    text = await page.inner_text("main")  # type: ignore[attr-defined]
    assert "Lần 2" in text and "Đã báo cáo đúng hạn" in text
    trail = await page.inner_text("nav.trail")  # type: ignore[attr-defined]
    assert "Tỉnh ủy" in trail and "Đơn vị H" in trail
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # type: ignore[attr-defined]
    await page.goto(f"{site.base}/late")  # type: ignore[attr-defined]
    assert "Đảng bộ xã Tây" in await page.inner_text("main")  # type: ignore[attr-defined]
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # type: ignore[attr-defined]
    # The dashboard at phone width (looked at by a person, not compared): into docs/ with
    # CADREBOT_SCREENSHOT_DOCS=1, else beside the test (a test run leaves the tree clean).
    supervisor = await _sign_in(site, world.supervisor_id)
    width = await supervisor.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 360  # nothing wider than the phone
    folder = DOCS if os.environ.get("CADREBOT_SCREENSHOT_DOCS") == "1" else tmp_path
    shot = folder / "web-dashboard.png"
    await supervisor.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    assert (await asyncio.to_thread(shot.read_bytes))[:4] == b"\x89PNG"
    # A reused link: the Vietnamese page that says what to do.
    url = await link_for(site.web, world.supervisor_id)
    fresh = await _page(site)
    await fresh.goto(url.replace(site.web.settings.web_url or "", site.base))  # type: ignore[attr-defined]
    await fresh.wait_for_url(f"{site.base}/")  # type: ignore[attr-defined]
    again = await _page(site)
    await again.goto(url.replace(site.web.settings.web_url or "", site.base))  # type: ignore[attr-defined]
    await again.wait_for_selector("text=đã được sử dụng")  # type: ignore[attr-defined]
    assert "gửi /web cho bot" in await again.inner_text("main")  # type: ignore[attr-defined]


async def test_another_persons_unit_page_and_download_are_refused(site: Site) -> None:
    world = site.web.world
    page = await _sign_in(site, site.web.other_supervisor_id)  # follows CS2 only
    response = await page.goto(f"{site.base}/unit/{world.unit_id}")  # type: ignore[attr-defined]
    assert response.status == 404
    assert "Không tìm thấy" in await page.inner_text("main")  # type: ignore[attr-defined]
    assert "Đảng bộ xã Đông" not in await page.content()  # type: ignore[attr-defined]
    response = await page.goto(f"{site.base}/export?c={world.campaign_id}&unit={world.unit_id}")  # type: ignore[attr-defined]
    assert response.status == 404
    # Their own unit's workbook downloads.
    await page.goto(f"{site.base}/unit/{world.other_unit_id}")  # type: ignore[attr-defined]
    async with page.expect_download() as info:  # type: ignore[attr-defined]
        await page.click("text=Tải bảng tổng hợp")  # type: ignore[attr-defined]
    download = await info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = await download.path()
    assert (await asyncio.to_thread(Path(saved).read_bytes))[:2] == b"PK"


def _init_data(user_id: int, token: str) -> str:
    fields = {
        "auth_date": str(int(NOW.timestamp()) - 30),
        "user": json.dumps({"id": user_id, "first_name": "E", "language_code": "vi"}),
    }
    fields["hash"] = sign(fields, token)
    return urlencode(fields)


async def test_mini_app_forged_and_valid_init_data(site: Site) -> None:
    page = await _page(site)
    forged = quote(_init_data(SUPERVISOR_TELEGRAM_ID, "999:forged"), safe="")
    await page.goto(f"{site.base}/tg#tgWebAppData={forged}&tgWebAppVersion=8.0")  # type: ignore[attr-defined]
    await page.wait_for_selector("text=Không xác thực được")  # type: ignore[attr-defined]
    assert (await page.context.cookies()) == []  # type: ignore[attr-defined]
    genuine = quote(_init_data(SUPERVISOR_TELEGRAM_ID, BOT_TOKEN), safe="")
    page = await _page(site)  # a fresh launch (a new fragment alone does not reload the page)
    await page.goto(f"{site.base}/tg#tgWebAppData={genuine}&tgWebAppVersion=8.0")  # type: ignore[attr-defined]
    await page.wait_for_url(f"{site.base}/")  # type: ignore[attr-defined]
    assert "Phạm Văn E" in await page.inner_text("footer")  # type: ignore[attr-defined]


async def _unit_codes(db: Database) -> list[str]:
    async with db.read() as session:
        return list(
            (await session.execute(select(col(Unit.code)).order_by(col(Unit.id)))).scalars()
        )


async def test_uploads_and_the_report_page(site: Site, tmp_path: Path) -> None:
    db = site.web.db
    page = await _sign_in(site, site.web.admin_id)
    await page.click("text=Quản trị")  # type: ignore[attr-defined]
    await page.click("text=Nhập cây đơn vị")  # type: ignore[attr-defined]
    before = await _unit_codes(db)
    spoiled = tmp_path / "don-vi.csv"
    spoiled.write_text(
        "code,name,level,parent_code,members\nX1,Xã Bắc,co_so,H,40\nX2,Xã Nam,co_so,KHONGCO,12\n",
        encoding="utf-8",
    )
    await page.set_input_files("input[type=file]", str(spoiled))  # type: ignore[attr-defined]
    await page.click("button:has-text('Tải lên')")  # type: ignore[attr-defined]
    await page.wait_for_selector("#problems")  # type: ignore[attr-defined]
    problems = await page.inner_text("#problems")  # type: ignore[attr-defined]
    assert "chưa có gì được ghi" in problems and "3" in problems
    assert await _unit_codes(db) == before  # nothing written
    good = tmp_path / "don-vi-dung.csv"
    good.write_text("code,name,level,parent_code,members\nX1,Xã Bắc,co_so,H,40\n", encoding="utf-8")
    await page.set_input_files("input[type=file]", str(good))  # type: ignore[attr-defined]
    await page.click("button:has-text('Tải lên')")  # type: ignore[attr-defined]
    await page.wait_for_selector("#summary")  # type: ignore[attr-defined]
    assert await _unit_codes(db) == [*before, "X1"]
    # The desk's report page: the paragraph, and the same paragraph as a Party document.
    await page.goto(f"{site.base}/desk")  # type: ignore[attr-defined]
    await page.click("a[href='/desk/report']")  # type: ignore[attr-defined]
    shown = await page.inner_text("#report-text")  # type: ignore[attr-defined]
    assert shown.startswith("Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy")
    async with page.expect_download() as info:  # type: ignore[attr-defined]
        await page.click("#report-docx")  # type: ignore[attr-defined]
    document = await info.value
    assert document.suggested_filename.endswith(".docx")
    opened = await asyncio.to_thread(Document, str(await document.path()))
    written = [p.text for p in opened.paragraphs if p.text]
    assert written[3] == shown.split("\n")[0].strip()
