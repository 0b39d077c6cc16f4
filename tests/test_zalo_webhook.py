"""The Zalo server and `run_zalo`: a webhook with a wrong or missing secret is refused (403) and
not processed, the right one is answered; long polling end to end; webhook mode registers the
webhook with the secret; the media route serves only the right token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.zalo.media import MediaStore
from bot.zalo.run import build_zalo, run_zalo
from bot.zalo.webhook import SECRET_HEADER, ZaloServer
from storage.db import Database
from storage.models import ProcessedUpdate
from tests.botapi_stub import OUTER
from tests.report_fixtures import NOW
from tests.zalo_fixtures import REPORTER, Zalo, bind_zalo, kept, open_zalo, zalo_settings

SECRET = "s3cret-webhook-token"


@pytest.fixture
async def zalo(db: Database) -> AsyncIterator[Zalo]:
    async with open_zalo(db) as opened:
        yield opened


async def processed(z: Zalo) -> int:
    async with z.world.db.read() as session:
        count = await session.execute(select(func.count()).select_from(ProcessedUpdate))
        return int(count.scalar_one())


async def test_wrong_secret_is_refused_and_the_right_one_processed(zalo: Zalo) -> None:
    await bind_zalo(zalo.world.db, zalo.world.reporter_id, REPORTER)
    server = ZaloServer(path="/zalo", processor=zalo.adapter, secret=SECRET)
    port = server.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}/zalo"
    try:
        async with httpx.AsyncClient(timeout=120.0) as http:
            update = zalo.updates.text(REPORTER, "/tinhtrang")
            wrong = await http.post(url, json=update, headers={SECRET_HEADER: "not-the-secret"})
            missing = await http.post(url, json=update)
            assert (wrong.status_code, missing.status_code) == (403, 403)
            assert await processed(zalo) == 0 and zalo.stub.sent() == []

            right = await http.post(url, json=update, headers={SECRET_HEADER: SECRET})
            assert right.status_code == 200
            [status] = zalo.stub.texts(REPORTER.id)
            assert "Đảng bộ xã Đông" in status
            again = await http.post(url, json=update, headers={SECRET_HEADER: SECRET})
            # A retry: processed once; the answer that went out is not sent again.
            assert again.status_code == 200 and zalo.stub.texts(REPORTER.id) == [status]
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert health.text == "ok"
    finally:
        await server.stop()


async def test_media_route_needs_the_token(zalo: Zalo) -> None:
    media = MediaStore(None, kept(zalo.world.db))
    server = ZaloServer(path="/zalo", media=media)
    port = server.start("127.0.0.1", 0)
    media.public_base = f"http://127.0.0.1:{port}/zalo"
    try:
        url = await media.publish(b"\x89PNG chart")
        async with httpx.AsyncClient(timeout=120.0) as http:
            assert (await http.get(url)).content == b"\x89PNG chart"
            forged = url.split("?")[0] + "?token=guess"
            assert (await http.get(forged)).status_code == 404
    finally:
        await server.stop()


async def test_long_polling_end_to_end(zalo: Zalo) -> None:
    await bind_zalo(zalo.world.db, zalo.world.reporter_id, REPORTER)
    stop = asyncio.Event()
    settings = zalo_settings(zalo_api_url=zalo.stub.base_url)
    task = asyncio.create_task(run_zalo(settings, zalo.world.db, lambda: NOW, stop))
    zalo.stub.push(zalo.updates.text(REPORTER, "/baocao"))
    zalo.stub.push(zalo.updates.text(REPORTER, "1"))
    await zalo.stub.wait_sent(2)
    stop.set()
    await asyncio.wait_for(task, OUTER)
    assert zalo.stub.of("deleteWebhook")  # polling and webhook are exclusive
    first, second = zalo.stub.texts(REPORTER.id)
    assert "Trả lời bằng số thứ tự" in first and "Câu 1/8" in second


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_mode_registers_the_webhook_and_answers(zalo: Zalo) -> None:
    await bind_zalo(zalo.world.db, zalo.world.reporter_id, REPORTER)
    port = _free_port()
    settings = zalo_settings(
        zalo_api_url=zalo.stub.base_url,
        zalo_webhook_url="https://bot.example.vn",
        zalo_webhook_secret=SECRET,
        zalo_listen="127.0.0.1",
        zalo_port=port,
    )
    service = build_zalo(settings, zalo.world.db)
    assert service.media.public_base == "https://bot.example.vn/zalo"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_zalo(settings, zalo.world.db, lambda: NOW, stop, service=service)
    )
    try:

        async def registered() -> None:
            while not zalo.stub.webhook:
                zalo.stub.changed.clear()
                await zalo.stub.changed.wait()

        await asyncio.wait_for(registered(), OUTER)
        async with httpx.AsyncClient(timeout=120.0) as http:
            assert zalo.stub.webhook == {
                "url": "https://bot.example.vn/zalo",
                "secret_token": SECRET,
            }
            update = zalo.updates.text(REPORTER, "/trogiup")
            answer = await http.post(
                f"http://127.0.0.1:{port}/zalo", json=update, headers={SECRET_HEADER: SECRET}
            )
            assert answer.status_code == 200
        [help_text] = zalo.stub.texts(REPORTER.id)
        assert "/baocao" in help_text and "/kenh" in help_text
    finally:
        stop.set()
        await asyncio.wait_for(task, OUTER)
        await service.aclose()
