"""Webhook mode over real HTTP: the secret token is checked, updates with it are processed before
Telegram gets its 200, a failing handler answers 500 (nothing committed) so Telegram's retry is
processed once, a slow update is answered after the safeguard, and /healthz answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import build_application
from bot.core import turn
from bot.telegram.webhook import PROCESS_TIMEOUT, public_url, start_webhook
from storage.db import Database
from storage.models import ProcessedUpdate
from storage.settings import Settings
from tests.botapi_stub import OUTER
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TOKEN, RecordingRequest, TgUser, UpdateFactory, bind
from tests.turn_hooks import Read, around_turn_read

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


@asynccontextmanager
async def serving(db: Database, process_timeout: float = PROCESS_TIMEOUT) -> AsyncIterator[Server]:
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
    await app.start()
    hook = await start_webhook(app, settings, process_timeout=process_timeout)
    try:
        yield Server(
            f"http://127.0.0.1:{port}", request, app.update_queue, UpdateFactory(lambda: NOW)
        )
    finally:
        await hook.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
async def server(db: Database) -> AsyncIterator[Server]:
    async with serving(db) as running:
        yield running


async def post(server: Server, update: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{server.url}/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )


def texts(server: Server) -> list[str]:
    return [str(c.params["text"]) for c in server.request.calls if c.method == "sendMessage"]


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
    async with httpx.AsyncClient(timeout=120.0) as client:
        response = await client.post(
            f"{server.url}/telegram",
            json=server.updates.text("/tinhtrang", REPORTER),
            headers=headers,
        )
    assert response.status_code == 403
    await asyncio.wait_for(server.queue.join(), OUTER)
    assert await processed(db) == 0
    assert not [c for c in server.request.calls if c.method == "sendMessage"]


async def test_right_secret_is_processed_and_health_answers(server: Server, db: Database) -> None:
    async with httpx.AsyncClient(timeout=120.0) as client:
        response = await client.post(
            f"{server.url}/telegram",
            json=server.updates.text("/tinhtrang", REPORTER),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        health = await client.get(f"{server.url}/healthz")
    assert response.status_code == 200
    await asyncio.wait_for(server.queue.join(), OUTER)
    assert await processed(db) == 1
    assert [c for c in server.request.calls if c.method == "sendMessage"]
    assert (health.status_code, health.text) == (200, "ok")


def test_public_url_gets_the_path_only_when_it_has_none() -> None:
    base = Settings(telegram_token=TOKEN, webhook_url="https://bot.example.vn", _env_file=None)
    full = Settings(telegram_token=TOKEN, webhook_url="https://x.vn/hook/abc", _env_file=None)
    assert public_url(base) == "https://bot.example.vn/telegram"
    assert public_url(full) == "https://x.vn/hook/abc"


async def test_the_answer_comes_only_after_the_update_was_processed(
    server: Server, db: Database
) -> None:
    response = await post(server, server.updates.text("/tinhtrang", REPORTER))
    # No waiting: when Telegram has its 200, the update is committed and its reply sent.
    assert response.status_code == 200
    assert await processed(db) == 1
    assert len(texts(server)) == 1


async def test_a_failing_handler_answers_500_then_the_retry_is_processed_once(
    server: Server, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Flaky(RuntimeError):
        pass

    failures = [Flaky("database went away")]

    async def flaky(real: Read, kwargs: dict[str, Any]) -> Any:
        if failures:
            raise failures.pop()
        return await real(**kwargs)

    around_turn_read(monkeypatch, flaky)
    update = server.updates.text("/tinhtrang", REPORTER)

    failed = await post(server, update)
    assert failed.status_code == 500  # Telegram delivers it again
    assert await processed(db) == 0  # the claim rolled back with the handler's writes
    [apology] = texts(server)

    retried = await post(server, update)
    assert retried.status_code == 200
    assert await processed(db) == 1
    answers = texts(server)
    assert len(answers) == 2 and answers[1] != apology

    again = await post(server, update)  # one more redelivery: its answer went out already
    assert again.status_code == 200
    assert await processed(db) == 1
    assert texts(server) == answers


async def test_a_slow_update_is_answered_after_the_safeguard_and_still_processed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_deliver = turn.deliver
    gate, delivered = asyncio.Event(), asyncio.Event()

    async def slow(real: Read, kwargs: dict[str, Any]) -> Any:
        await gate.wait()
        return await real(**kwargs)

    async def deliver(*args: Any, **kwargs: Any) -> None:
        await real_deliver(*args, **kwargs)
        delivered.set()

    around_turn_read(monkeypatch, slow)
    monkeypatch.setattr(turn, "deliver", deliver)
    async with serving(db, process_timeout=0.2) as server:
        response = await post(server, server.updates.text("/tinhtrang", REPORTER))
        assert response.status_code == 200
        assert texts(server) == []  # answered before the handler finished
        gate.set()
        await asyncio.wait_for(delivered.wait(), OUTER)
        assert await processed(db) == 1
        assert len(texts(server)) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"{}"])
async def test_a_body_that_is_no_update_is_refused(
    server: Server, db: Database, body: bytes
) -> None:
    async with httpx.AsyncClient(timeout=120.0) as client:
        response = await client.post(
            f"{server.url}/telegram",
            content=body,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    assert response.status_code == 400
    assert await processed(db) == 0
