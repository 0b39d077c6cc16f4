"""Telegram photos and documents as evidence: the photo's largest size or the document is
fetched through getFile and the file URL, checked for size before any download (the message's
`file_size`, then getFile's) and for type after it (the bytes, not the claimed type). A huge,
wrongly typed, empty or undownloadable file gets its Vietnamese answer and changes nothing.
The last test runs the real HTTP client against the Bot API fake over HTTP
(`tests/botapi_stub.py`, getFile and /file/bot<token>/<path>)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_application
from bot.telegram.polling import run_polling
from storage.db import Database
from storage.i18n import t
from storage.models import Evidence
from storage.settings import Settings
from tests.botapi_stub import BotApiStub
from tests.report_fixtures import NOW, World, build_world
from tests.review_fixtures import session_report
from tests.telegram_harness import TOKEN, TelegramHarness, TgUser, bind

REPORTER = TgUser(8701, "Bí thư")
JPEG = b"\xff\xd8\xff\xe0" + b"so ky ten" * 40
PDF = b"%PDF-1.4 chuong trinh hanh dong 05-CTr/DU"
MB = 1024 * 1024


@dataclass
class Bot:
    harness: TelegramHarness
    world: World
    db: Database
    folder: Path
    number: int

    async def send(self, update: dict[str, object]) -> list[str]:
        return (await self.harness.process(update)).texts()

    async def kept(self) -> int:
        async with self.db.read() as session:
            rows = await session.execute(select(func.count()).select_from(Evidence))
            return int(rows.scalar_one())


@pytest.fixture
async def bot(db: Database, tmp_path: Path) -> AsyncIterator[Bot]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    number = await session_report(db, world)
    folder = tmp_path / "evidence"
    settings = Settings(
        telegram_token=TOKEN, evidence_dir=str(folder), evidence_max_mb=1, _env_file=None
    )
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, settings=settings)
    yield Bot(harness, world, db, folder, number)
    await harness.stop()


async def test_a_pdf_document_becomes_evidence(bot: Bot) -> None:
    bot.harness.request.serve("doc-1", PDF)
    said = await bot.send(bot.harness.updates.document(REPORTER))
    assert said == [t("evidence.attached", "vi", number=bot.number, count=1)]
    async with bot.db.read() as session:
        [row] = (await session.execute(select(Evidence))).scalars().all()
    assert (row.content_type, row.channel, row.size) == ("application/pdf", "telegram", len(PDF))
    assert [c.params["file_id"] for c in bot.harness.request.calls if c.method == "getFile"] == [
        "doc-1"
    ]


@pytest.mark.parametrize(
    ("kind", "size", "mime", "key"),
    [
        ("photo", 3 * MB, None, "evidence.too_large"),  # said by the message: never fetched
        ("document", 2 * MB, "application/pdf", "evidence.too_large"),
        ("document", 4096, "application/msword", "evidence.bad_type"),  # claimed: not fetched
    ],
)
async def test_what_the_message_says_is_refused_before_any_download(
    bot: Bot, kind: str, size: int, mime: str | None, key: str
) -> None:
    request = bot.harness.request
    request.serve("photo-1", JPEG)
    request.serve("doc-1", PDF)
    updates = bot.harness.updates
    update = (
        updates.image(REPORTER, size=size)
        if kind == "photo"
        else updates.document(REPORTER, size=size, mime_type=mime)
    )
    said = await bot.send(update)
    assert said == [t(key, "vi", limit=1)]
    assert not [c for c in request.calls if c.method == "getFile"] and request.downloads == []
    assert await bot.kept() == 0


async def test_a_size_only_getfile_tells_is_refused_without_download(bot: Bot) -> None:
    request = bot.harness.request
    request.serve("doc-1", b"%PDF-" + b"x" * (2 * MB))
    said = await bot.send(bot.harness.updates.document(REPORTER, size=None, mime_type=None))
    assert said == [t("evidence.too_large", "vi", limit=1)]
    assert request.downloads == [] and await bot.kept() == 0


@pytest.mark.parametrize(
    ("served", "key"),
    [
        (b"GIF89a not a kind of evidence", "evidence.bad_type"),  # the bytes decide, not the name
        (b"", "evidence.empty"),
        (None, "evidence.fetch_failed"),  # an unknown or expired file_id: getFile's 400
    ],
)
async def test_bad_bytes_or_no_file_are_refused_and_nothing_is_kept(
    bot: Bot, served: bytes | None, key: str
) -> None:
    if served is not None:
        bot.harness.request.serve("doc-1", served)
    update = bot.harness.updates.document(REPORTER, mime_type="image/jpeg", file_name="anh.jpg")
    said = await bot.send(update)
    assert said == [t(key, "vi")]
    assert await bot.kept() == 0
    assert not bot.folder.exists() or not any(bot.folder.rglob("*"))


async def test_over_http_the_file_is_fetched_through_the_configured_file_url(
    db: Database, tmp_path: Path
) -> None:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    number = await session_report(db, world)
    stub = BotApiStub()
    await stub.start()
    stub.files["photo-1"] = JPEG
    settings = Settings(
        telegram_token=stub.token,
        telegram_api_url=stub.base_url,
        telegram_file_url=stub.file_base_url,
        evidence_dir=str(tmp_path / "evidence"),
        _env_file=None,
    )
    app = build_application(settings, db=db, clock=lambda: NOW)
    try:
        async with app:
            stop = asyncio.Event()
            task = asyncio.create_task(run_polling(app, stop, poll_timeout=1))
            mark = len(stub.calls)
            await stub.push(stub.photo_update(REPORTER.id, "photo-1", len(JPEG)))
            expected = t("evidence.attached", "vi", number=number, count=1)
            await stub.wait_for_message(REPORTER.id, mark, contains=expected)
            stop.set()
            await task
    finally:
        await stub.close()
    assert stub.downloads == [f"/file/bot{stub.token}/photos/photo-1.jpg"]
    async with db.read() as session:
        [row] = (await session.execute(select(Evidence))).scalars().all()
    assert row.report_id == number and row.size == len(JPEG)
