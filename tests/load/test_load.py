"""Load: N reporters file the study-session report at the same time through the real bot process
over HTTP — webhook mode (updates POSTed concurrently with the secret header) and long polling
(against the stub's getUpdates). Afterwards every confirmed report is in the database exactly
once, every reporter got exactly one receipt, and the figures are printed.

Sizes in tests/load/conftest.py (CADREBOT_LOAD_FULL=1: 1,000 reporters)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from storage.db import Database
from storage.models import Report, ReportVersion, Unit
from tests.load.conftest import (
    LOAD_REPORTERS,
    LOAD_REPORTERS_PG,
    POLL_REPORTERS,
    SECRET,
    BotProcess,
    LoadStub,
    Reporter,
    prepare_world,
    report,
)

pytestmark = pytest.mark.slow  # minutes each: `pytest -m "not slow"` leaves them out


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        yield http


async def stored(database_url: str) -> tuple[list[tuple[int, int, int]], int]:
    """(unit code number, report count, version) per reported unit, and all versions."""
    db = Database.from_url(database_url)
    try:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(
                        col(Unit.code),
                        func.count(col(Report.id)),
                        func.max(col(Report.current_version)),
                    )
                    .join(Report, col(Report.unit_id) == col(Unit.id))
                    .group_by(col(Unit.code))
                )
            ).all()
            versions = (
                await session.execute(select(func.count()).select_from(ReportVersion))
            ).scalar_one()
    finally:
        await db.dispose()
    return [(int(code[2:]), int(n), int(v)) for code, n, v in rows], int(versions)


async def run_load(
    *,
    title: str,
    stub: LoadStub,
    database_url: str,
    workdir: Path,
    reporters: int,
    client: httpx.AsyncClient | None,
) -> None:
    users = await prepare_world(database_url, workdir, reporters)
    bot = BotProcess(stub, database_url, workdir, webhook=client is not None)
    await bot.start()
    try:
        if client is not None:
            refused = await client.post(bot.url, json={"update_id": 1})
            assert refused.status_code == 403  # no secret header: not processed
            wrong = await client.post(
                bot.url,
                json={"update_id": 2},
                headers={"X-Telegram-Bot-Api-Secret-Token": "x" + SECRET},
            )
            assert wrong.status_code == 403
        people = [Reporter(user, bot, client) for user in users]
        started = time.monotonic()
        await asyncio.gather(*(p.converse() for p in people))
        duration = time.monotonic() - started
        assert await bot.terminate() == 0
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
    assert "Traceback" not in bot.log(), bot.log()[-3000:]

    rows, versions = await stored(database_url)
    receipts = {user: stub.receipts(user) for user in users}
    lost = reporters - len(rows)
    duplicates = sum(n - 1 for _, n, _ in rows) + sum(v - 1 for _, _, v in rows)
    extra_receipts = sum(max(0, r - 1) for r in receipts.values())
    missing_receipts = sum(r == 0 for r in receipts.values())
    report(
        title,
        {
            "reporters": reporters,
            "reports": len(rows),
            "versions": versions,
            "receipts": sum(receipts.values()),
            "losses": lost,
            "duplicates": duplicates,
            "missing receipts": missing_receipts,
            "extra receipts": extra_receipts,
            "updates": sum(
                1 for _ in stub.calls if _.method in {"sendMessage", "answerCallbackQuery"}
            ),
            "duration": f"{duration:.1f} s",
            "reports/s": f"{reporters / duration:.1f}",
        },
    )
    assert sorted(code for code, _, _ in rows) == list(range(reporters))
    assert all(n == 1 and v == 1 for _, n, v in rows)
    assert versions == reporters
    assert set(receipts.values()) == {1}
    assert all(p.done for p in people)


async def test_webhook_load(
    stub: LoadStub, database_url: str, backend: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    reporters = LOAD_REPORTERS if backend == "sqlite" else LOAD_REPORTERS_PG
    await run_load(
        title=f"load webhook {backend}",
        stub=stub,
        database_url=database_url,
        workdir=tmp_path,
        reporters=reporters,
        client=client,
    )


async def test_polling_load(stub: LoadStub, tmp_path: Path) -> None:
    await run_load(
        title="load polling sqlite",
        stub=stub,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'poll.db'}",
        workdir=tmp_path,
        reporters=POLL_REPORTERS,
        client=None,
    )
