"""/web on both channels: the answer is a one-time link for that person that opens the console
once; the update's stored replies never hold the token; no public URL, no link; a stranger gets
the refusal."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from bot.telegram.local import TOKEN
from bot.web.app import build_app
from bot.zalo.adapter import ZaloAdapter
from bot.zalo.client import ZaloClient
from storage.db import Database
from storage.models import ProcessedUpdate
from storage.settings import Settings
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TelegramHarness, TgUser, bind
from tests.zalo_fixtures import REPORTER, bind_zalo
from tests.zalo_stub import TOKEN as ZALO_TOKEN
from tests.zalo_stub import ZaloStub, ZaloUpdates

BASE = "https://baocao.example.vn"
LINK = re.compile(re.escape(BASE) + r"/w/([A-Za-z0-9_-]{20,})")
SUPERVISOR = TgUser(8201, "E")


async def _opens(db: Database, settings: Settings, token: str) -> int:
    app = build_app(db, settings, clock=lambda: NOW + timedelta(minutes=1))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        response = await client.post("/w", data={"token": token})
        if response.status_code != 303:
            return response.status_code
        home = await client.get("/")
        assert "Phạm Văn E" in home.text
        return 303


async def _stored_replies(db: Database) -> str:
    async with db.read() as session:
        rows = (await session.execute(select(ProcessedUpdate))).scalars().all()
    return json.dumps([row.replies for row in rows], ensure_ascii=False)


async def test_web_on_telegram(db: Database) -> None:
    world = await build_world(db)
    settings = Settings(telegram_token=TOKEN, web_url=BASE, _env_file=None)  # type: ignore[call-arg]
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, settings=settings)
    try:
        await bind(db, world.supervisor_id, SUPERVISOR, now=NOW)
        text = (await harness.send("/web", SUPERVISOR)).text()
        stranger = (await harness.send("/web", TgUser(8299, "X"))).text()
    finally:
        await harness.stop()
    match = LINK.search(text)
    assert match is not None, text
    assert "10 phút" in text
    assert match[1] not in await _stored_replies(db)
    assert BASE not in stranger
    assert await _opens(db, settings, match[1]) == 303
    assert await _opens(db, settings, match[1]) == 410  # once only


async def test_web_on_zalo_and_without_a_public_url(db: Database) -> None:
    world = await build_world(db)
    stub = await ZaloStub.start()
    client = ZaloClient(ZALO_TOKEN, stub.base_url)
    try:
        await bind_zalo(db, world.supervisor_id, REPORTER)
        updates = ZaloUpdates(NOW)
        for web_url, expect_link in ((BASE, True), (None, False)):
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, zalo_token=ZALO_TOKEN, zalo_api_url=stub.base_url, web_url=web_url
            )
            adapter = ZaloAdapter(db=db, clock=lambda: NOW, settings=settings, client=client)
            mark = len(stub.sent(REPORTER.id))
            await adapter.process(updates.text(REPORTER, "/web"))
            text = "\n".join(stub.texts(REPORTER.id, since=mark))
            match = LINK.search(text)
            if expect_link:
                assert match is not None, text
                assert "bấm" not in text.lower()  # nothing tells a Zalo user to press
                assert await _opens(db, settings, match[1]) == 303
            else:
                assert match is None and "chưa được bật" in text
    finally:
        await client.aclose()
        await stub.stop()
