"""Both webhook servers over real sockets on 127.0.0.1: no start without a secret; the secret and
the size are judged from the headers before any body byte is read; bodies over 1 MB are refused;
idle connections are closed by the server; server warnings are rate-limited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import bot.telegram.webhook as tg_webhook
import bot.zalo.webhook as zalo_webhook
from bot.app import build_application
from bot.cli.run import register
from bot.log_limit import RateLimit
from storage.db import Database
from storage.settings import Settings
from tests.report_fixtures import NOW
from tests.telegram_harness import TOKEN, RecordingRequest
from tests.test_telegram_webhook import SECRET as TG_SECRET
from tests.test_telegram_webhook import Server, serving

ZALO_SECRET = "s3cret-webhook-token"
OUTER = 20.0  # generous outer limit for anything the server must do by itself


class Recorder:
    def __init__(self) -> None:
        self.updates: list[object] = []

    async def process(self, data: object) -> None:
        self.updates.append(data)


@pytest.fixture
async def tg(db: Database) -> AsyncIterator[Server]:
    async with serving(db) as running:
        yield running


@pytest.fixture
async def zalo() -> AsyncIterator[tuple[int, Recorder]]:
    recorder = Recorder()
    server = zalo_webhook.ZaloServer(path="/zalo", processor=recorder, secret=ZALO_SECRET)
    port = server.start("127.0.0.1", 0)
    try:
        yield port, recorder
    finally:
        await server.stop()


def tg_port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def raw_request(port: int, head: str, body: bytes = b"") -> bytes:
    """Send `head` (and `body`), then read the answer's status line (without reading more of
    the body than given)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), OUTER)
    finally:
        writer.close()


def head(path: str, secret_header: str, secret: str | None, length: int) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    lines.append("Content-Type: application/json")
    if secret is not None:
        lines.append(f"{secret_header}: {secret}")
    return "\r\n".join(lines) + "\r\n\r\n"


HUNDRED_MB = 100 * 1024 * 1024


async def test_telegram_wrong_secret_is_refused_before_the_body_is_read(tg: Server) -> None:
    # 100 MB announced, not one byte sent: the answer must come from the headers alone.
    status = await raw_request(
        tg_port(tg), head("/telegram", tg_webhook.SECRET_HEADER, "wrong", HUNDRED_MB)
    )
    assert status.startswith(b"HTTP/1.1 403")
    missing = await raw_request(
        tg_port(tg), head("/telegram", tg_webhook.SECRET_HEADER, None, HUNDRED_MB)
    )
    assert missing.startswith(b"HTTP/1.1 403")


async def test_telegram_body_over_one_megabyte_is_refused(tg: Server) -> None:
    status = await raw_request(
        tg_port(tg), head("/telegram", tg_webhook.SECRET_HEADER, TG_SECRET, 2 * 1024 * 1024)
    )
    assert status.startswith(b"HTTP/1.1 413")


async def test_zalo_wrong_secret_is_refused_before_the_body_is_read(
    zalo: tuple[int, Recorder],
) -> None:
    port, recorder = zalo
    status = await raw_request(port, head("/zalo", zalo_webhook.SECRET_HEADER, "nope", HUNDRED_MB))
    assert status.startswith(b"HTTP/1.1 403")
    assert recorder.updates == []


async def test_zalo_body_over_one_megabyte_is_refused(zalo: tuple[int, Recorder]) -> None:
    port, recorder = zalo
    status = await raw_request(
        port, head("/zalo", zalo_webhook.SECRET_HEADER, ZALO_SECRET, 2 * 1024 * 1024)
    )
    assert status.startswith(b"HTTP/1.1 413")
    # A chunked body gives no length up front: refused once it passes the cap.
    chunk = b"x" * (256 * 1024)
    chunked = (
        "POST /zalo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        f"{zalo_webhook.SECRET_HEADER}: {ZALO_SECRET}\r\n\r\n"
    )
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
    status = await raw_request(port, chunked, body)
    # Tornado's own cap (max_body_size) answers 400 when it cuts the stream, we answer 413.
    assert status.startswith((b"HTTP/1.1 413", b"HTTP/1.1 400")) or status == b""
    assert recorder.updates == []
    # A normal update still goes through.
    update = b'{"ok": true, "result": {}}'
    ok = await raw_request(
        port, head("/zalo", zalo_webhook.SECRET_HEADER, ZALO_SECRET, len(update)), update
    )
    assert ok.startswith(b"HTTP/1.1 200") and len(recorder.updates) == 1


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def hold_idle(port: int, count: int) -> list[Connection]:
    return [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]


async def test_idle_connections_are_closed_by_the_servers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tg_webhook, "IDLE_TIMEOUT", 0.2)
    monkeypatch.setattr(zalo_webhook, "IDLE_TIMEOUT", 0.2)
    server = zalo_webhook.ZaloServer(path="/zalo", processor=Recorder(), secret=ZALO_SECRET)
    port = server.start("127.0.0.1", 0)
    try:
        async with serving(db) as tg:
            for each in (port, tg_port(tg)):
                idle = await hold_idle(each, 50)
                # A half-open request (headers never finished) is closed too.
                half = await asyncio.open_connection("127.0.0.1", each)
                half[1].write(b"POST /zalo HTTP/1.1\r\nHost: x\r\n")
                idle.append(half)
                try:
                    for reader, _ in idle:
                        assert await asyncio.wait_for(reader.read(), OUTER) == b""
                finally:
                    for _, writer in idle:
                        writer.close()
                health = await raw_request(each, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert health.startswith(b"HTTP/1.1 200")
    finally:
        await server.stop()


def test_server_warnings_are_rate_limited() -> None:
    now = [0.0]
    limit = RateLimit(period=10, burst=3, clock=lambda: now[0])
    logger = logging.getLogger("tornado.general.test")
    records = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep()
    handler.addFilter(limit)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        for n in range(1000):
            logger.error("Uncaught exception %d", n)
        logger.info("normal traffic")
        assert len(records) == 3 + 1
        now[0] = 11.0
        logger.error("Uncaught exception %d", 1001)
        assert records[-1] == "Uncaught exception 1001 (997 similar records suppressed)"
    finally:
        logger.removeHandler(handler)


def test_the_server_loggers_are_limited_once_a_server_started(
    zalo: tuple[int, Recorder],
) -> None:
    for name in ("tornado.access", "tornado.application", "tornado.general", "asyncio"):
        assert any(isinstance(f, RateLimit) for f in logging.getLogger(name).filters)


async def test_telegram_webhook_does_not_start_without_a_secret(db: Database) -> None:
    settings = Settings(
        telegram_token=TOKEN,
        webhook_url="http://127.0.0.1:9",
        webhook_listen="127.0.0.1",
        webhook_port=9,
        _env_file=None,
    )
    app = build_application(
        settings, db=db, clock=lambda: NOW, request=RecordingRequest(lambda: NOW)
    )
    with pytest.raises(tg_webhook.MissingWebhookSecret):
        await tg_webhook.start_webhook(app, settings)


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps "run" a sub-command
        pass

    return app


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (
            {"CADREBOT_TELEGRAM_TOKEN": TOKEN, "CADREBOT_WEBHOOK_URL": "https://bot.example"},
            "CADREBOT_WEBHOOK_SECRET",
        ),
        (
            {"CADREBOT_ZALO_TOKEN": "123:zalo", "CADREBOT_ZALO_WEBHOOK_URL": "https://z.example"},
            "CADREBOT_ZALO_WEBHOOK_SECRET",
        ),
    ],
)
def test_run_webhook_without_a_secret_is_one_vietnamese_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    for name in (
        "CADREBOT_TELEGRAM_TOKEN",
        "CADREBOT_ZALO_TOKEN",
        "CADREBOT_WEBHOOK_SECRET",
        "CADREBOT_ZALO_WEBHOOK_SECRET",
        "CADREBOT_WEBHOOK_URL",
        "CADREBOT_ZALO_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CADREBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli(), ["run", "--webhook"])
    assert result.exit_code == 1
    assert variable in result.output and "đồng chí" in result.output
    assert "Traceback" not in result.output


def test_the_open_file_limit_is_raised_towards_the_target() -> None:
    import resource

    from bot.log_limit import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        lower = min(soft, 256)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lower, hard))
        now = raise_open_file_limit(target=lower + 100)
        expected = lower + 100 if hard == resource.RLIM_INFINITY else min(lower + 100, hard)
        assert now == expected == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
