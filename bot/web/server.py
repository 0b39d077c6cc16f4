"""Serving the web console with uvicorn inside the caller's event loop: `cadrebot run` starts it
next to the channels when CADREBOT_WEB_URL is set; `cadrebot web` runs it alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from storage.clock import Clock, system_clock
from storage.db import Database
from storage.settings import Settings

log = logging.getLogger(__name__)

# How long start-up may take before the server counts as failed.
START_LIMIT = 30.0


class WebServerDied(RuntimeError):
    """The web console's server ended while the service still runs."""


class WebServer:
    """One uvicorn server as a task of the running loop (signals stay with the caller)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock = system_clock,
        *,
        port: int | None = None,
    ) -> None:
        """`port`: instead of CADREBOT_WEB_PORT (0: any free port, see `bound_port`)."""
        import uvicorn

        from bot.web.app import build_app

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # the service handles SIGINT/SIGTERM and stops us

        config = uvicorn.Config(
            build_app(db, settings, clock),
            host=settings.web_listen,
            port=settings.web_port if port is None else port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            server_header=False,
        )
        self.server: Any = _Server(config)
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def start(self) -> None:
        """Serve, and return once the socket listens (raises if the server could not start)."""
        self.task = asyncio.create_task(self.server.serve(), name="web console")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_LIMIT
        while not self.server.started:
            if self.task.done():
                self.task.result()  # re-raises the start-up error
                raise RuntimeError("the web console stopped during start-up")
            if loop.time() > deadline:
                raise TimeoutError("the web console did not start")
            await asyncio.sleep(0.05)
        log.info("web console on %s:%s", self.server.config.host, self.server.config.port)

    @property
    def bound_port(self) -> int:
        """The port the server listens on (once started)."""
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    async def watch(self) -> None:
        """Return when the server stops because `stop` was called; raise `WebServerDied` when it
        ends any other way (an error in uvicorn's loop, or it returned on its own), so the
        service that runs it logs the failure and shuts down with an error instead of going on
        without its web console."""
        task = self.task
        if task is None:
            raise WebServerDied("the web console was not started")
        await asyncio.wait({task})  # never cancels the server's task itself
        if self.stopping:
            return
        error = None if task.cancelled() else task.exception()
        raise WebServerDied("the web console stopped unexpectedly") from error

    async def stop(self) -> None:
        self.stopping = True
        if self.task is None:
            return
        self.server.should_exit = True
        await asyncio.gather(self.task, return_exceptions=True)
        self.task = None
        # A server that died in its loop skipped its own shutdown: close what still listens.
        for listening in getattr(self.server, "servers", []):
            listening.close()
            await listening.wait_closed()


async def run_web(settings: Settings, stop: asyncio.Event, clock: Clock = system_clock) -> None:
    """The web console alone, until `stop` is set."""
    db = Database.from_url(settings.database_url)
    server = WebServer(db, settings, clock)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.stop()
        await db.dispose()
