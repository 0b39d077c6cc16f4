"""Webhook mode over real HTTP: the secret token is checked, updates with it are processed, and
/healthz answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import build_application
from bot.settings import Settings
from bot.telegram.webhook import public_url, start_webhook
from storage.db import Database
from storage.models import ProcessedUpdate
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TOKEN, RecordingRequest, TgUser, UpdateFactory, bind

SECRET = "s3cret_Token-1"
REPORTER = TgUser(8401, "A")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    request: RecordingRequest
    queue: asyncio.Queue[object]
    updates: UpdateFactory


@pytest.fixture
async def server(db: Database) -> AsyncIterator[Server]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    port = free_port()
    settings = Settings(
        telegram_token=TOKEN,
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret=SECRET,
        _env_file=None,
    )
    request = RecordingRequest(lambda: NOW)
    app = build_application(settings, db=db, clock=lambda: NOW, request=request)
    await app.initialize()
    await start_webhook(app, settings)
    await app.start()
    try:
        yield Server(
            f"http://127.0.0.1:{port}", request, app.update_queue, UpdateFactory(lambda: NOW)
        )
    finally:
        assert app.updater is not None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def processed(db: Database) -> int:
    async with db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ProcessedUpdate))).scalar_one()
        )


async def test_set_webhook_is_called_with_the_secret(server: Server) -> None:
    [call] = [c for c in server.request.calls if c.method == "setWebhook"]
    assert call.params["url"] == f"{server.url}/telegram"
    assert call.params["secret_token"] == SECRET


@pytest.mark.parametrize("header", [None, "wrong"])
async def test_wrong_or_missing_secret_is_refused(
    server: Server, db: Database, header: str | None
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": header} if header else {}
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/telegram",
            json=server.updates.text("/tinhtrang", REPORTER),
            headers=headers,
        )
    assert response.status_code == 403
    await asyncio.wait_for(server.queue.join(), 5)
    assert await processed(db) == 0
    assert not [c for c in server.request.calls if c.method == "sendMessage"]


async def test_right_secret_is_processed_and_health_answers(server: Server, db: Database) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/telegram",
            json=server.updates.text("/tinhtrang", REPORTER),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        health = await client.get(f"{server.url}/healthz")
    assert response.status_code == 200
    await asyncio.wait_for(server.queue.join(), 5)
    assert await processed(db) == 1
    assert [c for c in server.request.calls if c.method == "sendMessage"]
    assert (health.status_code, health.text) == (200, "ok")


def test_public_url_gets_the_path_only_when_it_has_none() -> None:
    base = Settings(telegram_token=TOKEN, webhook_url="https://bot.example.vn", _env_file=None)
    full = Settings(telegram_token=TOKEN, webhook_url="https://x.vn/hook/abc", _env_file=None)
    assert public_url(base) == "https://bot.example.vn/telegram"
    assert public_url(full) == "https://x.vn/hook/abc"
