"""`cadrebot web`: the web console alone (without the chat channels), until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

import typer

from bot.cli import common


async def _serve() -> None:
    from bot.web.server import run_web

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await run_web(common.settings(), stop)


def register(app: typer.Typer) -> None:
    @app.command("web")
    def web() -> None:
        """Chạy riêng trang quản lý trên web / run the web console alone."""
        config = common.settings()
        if not config.web_url:
            raise common.fail(
                "Trang quản lý cần địa chỉ công khai: đặt CADREBOT_WEB_URL "
                "(ví dụ https://baocao.tinhuy.vn)."
            )
        common.run(_serve())
