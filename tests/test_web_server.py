"""`cadrebot run` serves the web console in its own event loop when CADREBOT_WEB_URL is set (and
stops it with the rest); `cadrebot web` serves it alone. Readiness is waited for through
/healthz under a generous limit; a console that dies mid-run ends the service with an error."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from bot.runtime import run_service
from bot.web.server import WebServer, WebServerDied, run_web
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


async def _service(
    tmp_path: Path, stub: BotApiStub, stop: asyncio.Event
) -> tuple[int, asyncio.Task[None]]:
    """`run_service` with the web console on a free port, once /healthz answers."""
    port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        telegram_token="123:TEST",
        telegram_api_url=stub.base_url,
        database_url=await _database(tmp_path),
        web_url="https://baocao.example.vn",
        web_port=port,
        _env_file=None,
    )
    service = asyncio.create_task(run_service(settings, webhook=False, stop=stop))
    await wait_ready(f"http://127.0.0.1:{port}", service)
    return port, service


async def test_run_serves_the_console_and_stops_it(tmp_path: Path) -> None:
    stub = BotApiStub()
    await stub.start()
    try:
        stop = asyncio.Event()
        port, service = await _service(tmp_path, stub, stop)
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


class _Recorded(WebServer):
    """The service's web server, kept where the test can reach it."""

    made: ClassVar[list[WebServer]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Recorded.made.append(self)


@pytest.mark.parametrize("how", ["error", "returned"])
async def test_run_stops_with_an_error_when_the_console_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """The web server's task ending mid-run (an error in uvicorn's loop, or uvicorn returning on
    its own) is logged and ends the service with an error: never a bot whose console vanished."""
    monkeypatch.setattr(_Recorded, "made", [])
    monkeypatch.setattr("bot.runtime.WebServer", _Recorded)
    stub = BotApiStub()
    await stub.start()
    try:
        stop = asyncio.Event()
        _port, service = await _service(tmp_path, stub, stop)
        [server] = _Recorded.made

        async def broken_tick(counter: int) -> bool:
            raise RuntimeError("uvicorn's loop broke")

        if how == "error":
            server.server.on_tick = broken_tick
        else:
            server.server.should_exit = True  # not asked to by the service
        with caplog.at_level(logging.ERROR, logger="bot.runtime"), pytest.raises(WebServerDied):
            await asyncio.wait_for(service, OUTER)
        assert not stop.is_set()
        assert any("web console failed" in r.getMessage() for r in caplog.records)
    finally:
        await stub.close()
