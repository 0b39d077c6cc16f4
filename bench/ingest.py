"""Ingest benchmark: whole report conversations through the real Telegram Application.

    python -m bench.ingest [--reporters 300] [--concurrency 1] [--postgres URL] [--profile]

A fresh database (SQLite file; with --postgres also a scratch PostgreSQL database, schema through
Alembic) gets a province, a district, one grassroots unit (30 members) per reporter, the built-in
NQ XII campaign and one reporter per unit with a bound Telegram account. The real `Application`
(`bot.app.build_application`, conversation engine and all) answers through a local request class
(no network). Every reporter then files the study-session report, 11 updates each:

    /baocao · press "Hội nghị học tập" · 8 typed answers · press "Xác nhận"

Updates go through the application's update processor (`bot.telegram.processor`, as the update
fetcher of `cadrebot run` feeds them), each reporter's in order, up to `--concurrency` reporters
at once; the processor gets the same number of slots (CADREBOT_CONCURRENT_UPDATES). 1 is one
update after another; `cadrebot run` defaults to 16.

Two floors, measured in the same run with the same Application setup (same builder, defaults,
request class) and the same updates, but one handler instead of ours: "reply only" answers with
one message carrying the same buttons (no database); "reply + claim_update" first records the
update id in one write transaction — the least a durable, replay-safe turn must do. Both runs
replace python-telegram-bot's AIORateLimiter (30 messages/s for the whole bot, which would cap
every run at Telegram's limit) by a pass-through unless --telegram-limits is given.
Reported per run: wall time, CPU time of the process (fairer on a shared machine), SQL
statements per update, updates/s, confirmed reports/s, and the ratios to the floors.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, text
from sqlmodel import col
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import RequestData

from bot.app import build_application
from bot.telegram.local import TOKEN, RecordingRequest, TgUser, UpdateFactory
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database, create_engine, normalise_url
from storage.migrate import upgrade
from storage.models import (
    CHANNEL_TELEGRAM,
    ROLE_REPORTER,
    ChatIdentity,
    Person,
    Report,
    Role,
    Unit,
)
from storage.settings import Settings
from storage.unit_import import UnitRow
from storage.units import ensure_default_levels, import_units
from storage.updates import claim_update

# 29/9/2016 10:00 in Hà Nội: the session deadline (31/8) has passed, the campaign is open.
NOW = datetime(2016, 9, 29, 3, 0, tzinfo=UTC)
FIRST_USER = 900_000
# (kind, value): "press" a button whose label contains value, or "send" the text.
SCRIPT: tuple[tuple[str, str], ...] = (
    ("send", "/baocao"),
    ("press", "Hội nghị học tập"),
    ("send", "28/8"),
    ("send", "2 buổi"),
    ("send", "30"),
    ("send", "28 đồng chí"),
    ("send", "0"),
    ("send", "Đồng chí Nguyễn Văn B, Phó Bí thư"),
    ("send", "3"),  # the presenter's standing: a choice typed by its number
    ("send", "27"),
    ("press", "Xác nhận"),
)
RECEIPT = "Đã ghi nhận"
FLOOR_BUTTONS = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Hội nghị học tập", callback_data="floor:1")],
        [InlineKeyboardButton("Xác nhận", callback_data="floor:2")],
    ]
)


class BenchRequest(RecordingRequest):
    """The local Bot API, keeping only the last message sent to each chat (with its buttons)."""

    def __init__(self) -> None:
        super().__init__(lambda: NOW)
        self.last: dict[str, dict[str, Any]] = {}
        self.count = 0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        answer = await super().do_request(url, method, request_data)
        call = self.calls.pop()  # the parent records every call; keep memory flat
        self.count += 1
        if call.method == "sendMessage" and call.chat_id is not None:
            self.last[call.chat_id] = call.params
        return answer

    def button(self, chat_id: int, label_part: str) -> str:
        params = self.last.get(str(chat_id), {})
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in (markup or {}).get("inline_keyboard", []):
            for b in row:
                if label_part in b["text"]:
                    return str(b["callback_data"])
        raise AssertionError(f"chat {chat_id}: no button {label_part!r} in {params.get('text')!r}")

    def last_text(self, chat_id: int) -> str:
        return str(self.last.get(str(chat_id), {}).get("text", ""))


# ------------------------------------------------------------------------------------ the world


async def build_world(db: Database, reporters: int) -> list[TgUser]:
    async with db.write() as session:
        await ensure_default_levels(session=session)
        rows = [
            UnitRow(1, "T", "Tỉnh ủy", "tinh", None, 5000),
            UnitRow(2, "H", "Huyện ủy", "huyen", "T", 2000),
        ] + [
            UnitRow(3 + i, f"CS{i:05d}", f"Đảng bộ xã số {i}", "co_so", "H", 30)
            for i in range(reporters)
        ]
        await import_units(session=session, rows=rows, now=NOW)
        await load_campaign(session=session, definition=parse_definition(template_text()), now=NOW)
        found = await session.execute(
            select(col(Unit.code), col(Unit.id)).where(col(Unit.level_code) == "co_so")
        )
        units = {str(code): int(ident or 0) for code, ident in found.all()}
        users = [TgUser(FIRST_USER + i, f"R{i}") for i in range(reporters)]
        await session.execute(
            insert(Person),
            [{"full_name": f"Bí thư {i}", "created_at": NOW} for i in range(reporters)],
        )
        person_ids = [
            int(pid or 0)
            for pid in (await session.execute(select(col(Person.id)).order_by(col(Person.id))))
            .scalars()
            .all()
        ]
        await session.execute(
            insert(Role),
            [
                {
                    "person_id": pid,
                    "kind": ROLE_REPORTER,
                    "unit_id": units[f"CS{i:05d}"],
                    "created_at": NOW,
                }
                for i, pid in enumerate(person_ids)
            ],
        )
        await session.execute(
            insert(ChatIdentity),
            [
                {
                    "person_id": pid,
                    "channel": CHANNEL_TELEGRAM,
                    "external_id": str(user.id),
                    "chat_id": str(user.id),
                    "language_code": "vi",
                    "bound_at": NOW,
                }
                for user, pid in zip(users, person_ids, strict=True)
            ],
        )
    return users


# ------------------------------------------------------------------------------------ driving


@dataclass
class Result:
    label: str
    updates: int
    elapsed: float
    cpu: float
    reports: int
    statements: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.label,
            "updates": self.updates,
            "elapsed_s": round(self.elapsed, 2),
            "cpu_s": round(self.cpu, 2),
            "cpu_ms_per_update": round(1000 * self.cpu / self.updates, 2),
            "sql_per_update": round(self.statements / self.updates, 1),
            "updates_per_s": round(self.updates / self.elapsed, 1),
            "reports": self.reports,
            "reports_per_s": round(self.reports / self.elapsed, 1),
        }


async def drive(
    application: Application[Any, Any, Any, Any, Any, Any],
    request: BenchRequest,
    users: list[TgUser],
    concurrency: int,
) -> tuple[int, int, float, float]:
    """Every user runs SCRIPT; returns (updates processed, receipts seen, wall seconds, CPU
    seconds of the whole process, aiosqlite's thread included)."""
    factory = UpdateFactory(lambda: NOW)
    gate = asyncio.Semaphore(concurrency)
    receipts = 0

    async def one(user: TgUser) -> None:
        nonlocal receipts
        async with gate:
            for kind, value in SCRIPT:
                if kind == "send":
                    data = factory.text(value, user)
                else:
                    data = factory.callback(request.button(user.id, value), user)
                update = Update.de_json(data, application.bot)
                # Through the application's update processor, as the update fetcher of
                # `cadrebot run` does (PerChatUpdateProcessor, `concurrency` slots).
                await application.update_processor.process_update(
                    update, application.process_update(update)
                )
            if RECEIPT in request.last_text(user.id):
                receipts += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(user) for user in users))
    return (
        len(users) * len(SCRIPT),
        receipts,
        time.perf_counter() - started,
        time.process_time() - cpu,
    )


async def floor_handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with one message and the same two buttons; answer a press. No database."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat_id=chat.id, text="ok", reply_markup=FLOOR_BUTTONS)


class count_statements:
    """Counts the SQL statements the engine executes until `stop()`."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1

    def stop(self) -> int:
        event.remove(self.engine, "before_cursor_execute", self._seen)
        return self.count


async def durable_floor_handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The least a turn must do to be durable and replay-safe: one write transaction recording
    the update id (`claim_update`), then the reply. No conversation."""
    db = context.bot_data["db"]
    assert isinstance(db, Database)
    async with db.write() as session:
        await claim_update(session=session, channel="bench", update_id=update.update_id, now=NOW)
    await floor_handler(update, context)


def settings(concurrency: int = 1) -> Settings:
    return Settings(telegram_token=TOKEN, concurrent_updates=concurrency, _env_file=None)


def application_for(
    db: Database, request: BenchRequest, telegram_limits: bool, concurrency: int
) -> Application[Any, Any, Any, Any, Any, Any]:
    """`build_application` as `cadrebot run` calls it (CADREBOT_CONCURRENT_UPDATES =
    `concurrency`); without Telegram's 30/s limiter unless `telegram_limits`."""
    return build_application(
        settings(concurrency),
        db=db,
        clock=lambda: NOW,
        request=request,
        telegram_limits=telegram_limits,
    )


async def run_floor(
    db: Database,
    users: list[TgUser],
    concurrency: int,
    telegram_limits: bool,
    *,
    durable: bool,
) -> Result:
    request = BenchRequest()
    application = application_for(db, request, telegram_limits, concurrency)
    application.handlers.clear()
    application.error_handlers.clear()
    application.add_handler(
        TypeHandler(Update, durable_floor_handler if durable else floor_handler)
    )
    label = "floor: reply + claim_update" if durable else "floor: reply only"
    async with application:
        statements = count_statements(db)
        updates, _, elapsed, cpu = await drive(application, request, users, concurrency)
    return Result(label, updates, elapsed, cpu, 0, statements.stop())


async def run_ingest(
    db: Database,
    users: list[TgUser],
    concurrency: int,
    telegram_limits: bool,
    profile: Path | None,
) -> Result:
    request = BenchRequest()
    application = application_for(db, request, telegram_limits, concurrency)
    async with application:
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        statements = count_statements(db)
        updates, receipts, elapsed, cpu = await drive(application, request, users, concurrency)
        sql = statements.stop()
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
    async with db.read() as session:
        reports = int(
            (await session.execute(select(func.count()).select_from(Report))).scalar_one()
        )
    if reports != len(users) or receipts != len(users):
        raise SystemExit(f"expected {len(users)} reports: {reports} stored, {receipts} receipts")
    return Result("ingest (full conversation)", updates, elapsed, cpu, reports, sql)


async def run_engine(
    label: str,
    url: str,
    args: argparse.Namespace,
    profile: Path | None,
) -> dict[str, Any]:
    reporters, concurrency, limits = args.reporters, args.concurrency, args.telegram_limits
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        users = await build_world(db, reporters)
        floor = await run_floor(db, users, concurrency, limits, durable=False)
        durable = await run_floor(db, users, concurrency, limits, durable=True)
        ingest = await run_ingest(db, users, concurrency, limits, profile)
    finally:
        await db.dispose()
    return {
        "engine": label,
        "reporters": reporters,
        "concurrency": concurrency,
        "telegram_limits": limits,
        "floor": floor.as_dict(),
        "durable_floor": durable.as_dict(),
        "ingest": ingest.as_dict(),
        "ratio_to_floor": round(floor.elapsed / ingest.elapsed, 3),
        "ratio_to_durable_floor": round(durable.elapsed / ingest.elapsed, 3),
        "cpu_ratio_to_floor": round(floor.cpu / ingest.cpu, 3),
        "cpu_ratio_to_durable_floor": round(durable.cpu / ingest.cpu, 3),
    }


async def _pg_admin(url: str, sql: str) -> None:
    engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    profile = Path(args.profile) if args.profile else None
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'ingest.db'}"
        results.append(await run_engine("sqlite", url, args, profile))
    if args.postgres:
        name = f"cadrebot_bench_{uuid.uuid4().hex[:8]}"
        await _pg_admin(args.postgres, f'CREATE DATABASE "{name}"')
        try:
            url = str(normalise_url(args.postgres).set(database=name))
            results.append(await run_engine("postgresql", url, args, None))
        finally:
            await _pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reporters", type=int, default=300)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="reporters in flight (1: one update at a time, as `cadrebot run` processes them)",
    )
    parser.add_argument("--postgres", default=None, help="server URL; a scratch database is made")
    parser.add_argument(
        "--telegram-limits",
        action="store_true",
        help="keep python-telegram-bot's AIORateLimiter (30 messages/s), as in production",
    )
    parser.add_argument("--profile", default=None, help="write a cProfile of the SQLite ingest")
    args = parser.parse_args()
    for result in asyncio.run(main_async(args)):
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
