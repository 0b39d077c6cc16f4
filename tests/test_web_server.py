"""`cadrebot run` serves the web console in its own event loop when CADREBOT_WEB_URL is set (and
stops it with the rest); `cadrebot web` serves it alone. Readiness is waited for through
/healthz under a generous limit."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx

from bot.runtime import run_service
from bot.web.server import run_web
from storage.db import Database
from storage.migrate import upgrade
from storage.settings import Settings
from tests.botapi_stub import OUTER, BotApiStub

LIMIT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_ready(url: str, service: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIMIT
    async with httpx.AsyncClient(timeout=120.0) as client:
        while loop.time() < deadline:
            assert not service.done(), service.exception()
            try:
                if (await client.get(f"{url}/healthz")).text == "ok":
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError("the web console did not answer")


async def _database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    db = Database.from_url(url)
    await upgrade(db.engine)
    await db.dispose()
    return url


async def test_run_serves_the_console_and_stops_it(tmp_path: Path) -> None:
    url = await _database(tmp_path)
    port = free_port()
    stub = BotApiStub()
    await stub.start()
    try:
        settings = Settings(  # type: ignore[call-arg]
            telegram_token="123:TEST",
            telegram_api_url=stub.base_url,
            database_url=url,
            web_url="https://baocao.example.vn",
            web_port=port,
            _env_file=None,
        )
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(settings, webhook=False, stop=stop))
        await wait_ready(f"http://127.0.0.1:{port}", service)
        async with httpx.AsyncClient(timeout=120.0) as client:
            page = await client.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 401 and "gửi /web cho bot" in page.text
        stop.set()
        await asyncio.wait_for(service, OUTER)
        async with httpx.AsyncClient(timeout=120.0) as client:
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
                raise AssertionError("the console still answers after the service stopped")
            except httpx.TransportError:
                pass
    finally:
        await stub.close()


async def test_web_alone(tmp_path: Path) -> None:
    url = await _database(tmp_path)
    port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        database_url=url, web_url="http://127.0.0.1", web_port=port, _env_file=None
    )
    stop = asyncio.Event()
    service = asyncio.create_task(run_web(settings, stop))
    await wait_ready(f"http://127.0.0.1:{port}", service)
    stop.set()
    await asyncio.wait_for(service, LIMIT)
