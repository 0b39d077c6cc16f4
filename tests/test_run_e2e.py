"""`cadrebot run` end to end: the real command in a subprocess, talking HTTP to a fake Bot API.

The database is prepared by the real command line (`init`, `invite create`) and, to keep the test
short, the storage functions behind `units import` and `campaign load` (the built-in template).
A new reporter then redeems the invite, files a whole report
with typed answers and one confirm press, and gets the receipt; SIGTERM stops the process with
exit code 0 and the report is on disk. A message queued in the outbox before start is delivered
once by the running process (text through sendMessage; a chart through sendPhoto, then its text).

`cadrebot run` starts whichever channels have a token: Telegram and Zalo (against the local Zalo
stub) in one process, or Zalo alone; a token Telegram rejects ends the command with one
Vietnamese line, without a traceback and without the token.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlmodel import col

from storage import outbox
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import CHANNEL_TELEGRAM, CHANNEL_ZALO, Outbox, Report, ReportVersion
from storage.people import ChatAccount, bind_identity, create_person
from storage.unit_import import parse_units_file
from storage.units import import_units
from tests import zalo_stub
from tests.botapi_stub import ApiCall, BotApiStub
from tests.zalo_stub import ZaloStub, ZaloUpdates, ZaloUser

TOKEN = "123:TEST"
USER = 777001
CLI = [sys.executable, "-c", "from bot.cli.main import main; main()"]
UNITS_CSV = (
    "code,name,level,parent_code,members\n"
    "T,Tỉnh ủy Bắc Ninh,tinh,,500\n"
    "H,Huyện ủy Tiên Du,huyen,T,200\n"
    "CS1,Đảng bộ xã Đông,co_so,H,30\n"
)
# Bounds, never slept: every wait below ends as soon as its signal arrives (the stub's first
# getUpdates, the answer, the exit) and fails at once if the process exits first. They are
# generous so that a machine busy with other work never fails a test by being slow.
OUTER = 120.0  # seconds any expected event may take (start-up included)
STOP_WITHIN = OUTER  # seconds from SIGTERM to exit

T = TypeVar("T")


@dataclass
class Bot:
    stub: BotApiStub
    env: dict[str, str]
    workdir: Path
    database_url: str
    process: asyncio.subprocess.Process | None = None

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*CLI, *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=OUTER,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    async def start(self) -> None:
        log = (self.workdir / "run.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *CLI, "run", env=self.env, cwd=self.workdir, stdout=log, stderr=log
        )
        log.close()

    async def watch(self, waiting: Awaitable[T], what: str) -> T:
        """`waiting`, bounded by OUTER; fails at once, with the log, if the bot exits first."""
        assert self.process is not None
        task = asyncio.ensure_future(waiting)
        exited = asyncio.ensure_future(self.process.wait())
        try:
            done, _ = await asyncio.wait(
                {task, exited}, timeout=OUTER, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            exited.cancel()
        if task in done and not isinstance(task.exception(), TimeoutError):
            return task.result()
        task.cancel()
        with suppress(asyncio.CancelledError, TimeoutError):
            await task
        code = self.process.returncode
        state = f"the bot exited ({code})" if code is not None else f"nothing in {OUTER:.0f} s"
        raise AssertionError(f"waiting for {what}: {state}; bot log:\n{self.log()}")

    async def ready(self) -> None:
        """Until the bot polls Telegram for the first time (it is listening)."""
        await self.watch(
            self.stub.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls), OUTER),
            "the first getUpdates",
        )

    async def terminate(self) -> int:
        """SIGTERM, then the exit code (the process must stop within STOP_WITHIN seconds)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_WITHIN)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"no exit {STOP_WITHIN} s after SIGTERM:\n{self.log()}") from None

    def log(self) -> str:
        path = self.workdir / "run.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def say(self, text: str) -> ApiCall:
        """Send a private message from USER; the bot's first answer to it."""
        mark = len(self.stub.calls)
        await self.stub.push(self.stub.text_update(USER, text))
        return await self.answer(mark)

    async def press(self, message: ApiCall, label_part: str) -> ApiCall:
        """Press the button of `message` whose label contains `label_part`; the bot's answer."""
        data = next(
            (b["callback_data"] for b in message.buttons() if label_part in b["text"]), None
        )
        assert data is not None, f"no button {label_part!r} in {message.buttons()}"
        assert message.message_id is not None
        mark = len(self.stub.calls)
        await self.stub.push(self.stub.callback_update(USER, data, message.message_id))
        await self.watch(
            self.stub.wait_for(
                lambda calls: any(c.method == "answerCallbackQuery" for c in calls[mark:]), OUTER
            ),
            f"the answer to the press on {label_part!r}",
        )
        return await self.answer(mark)

    async def answer(self, mark: int) -> ApiCall:
        return await self.watch(
            self.stub.wait_for_message(USER, after=mark, within=OUTER), "an answer"
        )


def environment(database_url: str, api_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CADREBOT_")},
        "CADREBOT_DATABASE_URL": database_url,
        "CADREBOT_TELEGRAM_TOKEN": TOKEN,
        "CADREBOT_TELEGRAM_API_URL": api_url,
        "CADREBOT_LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file made by `cadrebot init` (once per module; each test gets a copy)."""
    workdir = tmp_path_factory.mktemp("init")
    path = workdir / "cadrebot.db"
    Bot(
        BotApiStub(),
        environment(f"sqlite+aiosqlite:///{path}", "http://127.0.0.1:9/bot"),
        workdir,
        "",
    ).cli("init")
    return path


@pytest.fixture
async def bot(tmp_path: Path, initialised: Path) -> AsyncIterator[Bot]:
    stub = BotApiStub(token=TOKEN)
    await stub.start()
    shutil.copyfile(initialised, tmp_path / "cadrebot.db")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"
    bot = Bot(stub, environment(database_url, stub.base_url), tmp_path, database_url)
    try:
        yield bot
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
        await stub.close()


async def load_world(database_url: str, workdir: Path) -> None:
    """What `cadrebot units import units.csv` and `cadrebot campaign load` write."""
    (workdir / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    now = datetime.now(UTC)
    db = Database.from_url(database_url)
    try:
        async with db.write() as session:
            await import_units(
                session=session, rows=parse_units_file(workdir / "units.csv"), now=now
            )
            await load_campaign(
                session=session, definition=parse_definition(template_text()), now=now
            )
    finally:
        await db.dispose()


async def test_a_new_reporter_files_a_report_and_sigterm_stops_the_bot(bot: Bot) -> None:
    await load_world(bot.database_url, bot.workdir)
    await bot.start()  # the invite is made while the bot starts (as an admin would)
    invite = await asyncio.to_thread(
        bot.cli, "invite", "create", "--role", "reporter", "--unit", "CS1"
    )
    await bot.ready()
    match = re.search(r"start=([A-Za-z0-9_-]+)", invite)
    assert match, invite

    greeting = await bot.say(f"/start {match.group(1)}")
    assert "Chào đồng chí" in greeting.text
    assert "Đảng bộ xã Đông" in greeting.text

    menu = await bot.say("/baocao")
    question = await bot.press(menu, "Hội nghị học tập")
    answers = [
        ("Câu 1/8", "28-8-2016"),
        ("Câu 2/8", "2"),
        ("Câu 3/8", "30"),
        ("Câu 4/8", "28 đồng chí"),
        ("Câu 5/8", "0"),
        ("Câu 6/8", "Đồng chí Nguyễn Văn B, Bí thư Huyện ủy"),
        ("Câu 7/8", "1"),  # the presenter's standing: a member of the higher-level committee
        ("Câu 8/8", "27"),
    ]
    for expected, typed in answers:
        assert expected in question.text, question.text
        question = await bot.say(typed)
    summary = question
    assert "28" in summary.text and "Nguyễn Văn B" in summary.text
    receipt = await bot.press(summary, "Xác nhận")
    assert "Đã ghi nhận" in receipt.text

    assert await bot.terminate() == 0, bot.log()
    assert "Traceback" not in bot.log()
    assert TOKEN not in bot.log()
    db = Database.from_url(bot.database_url)
    try:
        async with db.read() as session:
            rows = (
                (
                    await session.execute(
                        select(ReportVersion).join(
                            Report, col(Report.id) == col(ReportVersion.report_id)
                        )
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await db.dispose()
    assert len(rows) == 1
    assert (rows[0].attended, rows[0].essays, rows[0].duration_halfdays) == (28, 27, 2)


async def test_a_message_queued_before_start_is_delivered_once(bot: Bot) -> None:
    now = datetime.now(UTC)
    db = Database.from_url(bot.database_url)
    try:
        async with db.write() as session:
            person = await create_person(session=session, full_name="Nguyễn Văn A", now=now)
            assert person.id is not None
            await bind_identity(
                session=session,
                person_id=person.id,
                account=ChatAccount(CHANNEL_TELEGRAM, str(USER), str(USER), "vi"),
                now=now,
            )
            for key, message in (
                ("e2e:text", OutgoingMessage(text="Nhắc nhở: đơn vị còn thiếu báo cáo.")),
                ("e2e:chart", OutgoingMessage(text="Biểu đồ tuần", photo=b"\x89PNG\r\n\x1a\n0")),
            ):
                await outbox.enqueue(
                    session=session,
                    key=key,
                    kind="nudge",
                    person_id=person.id,
                    payload=message.to_payload(),
                    now=now,
                )
    finally:
        await db.dispose()

    await bot.start()
    await bot.watch(
        bot.stub.wait_for(lambda calls: len(bot.stub.messages_to(USER)) >= 3 or None, OUTER),
        "both queued messages",
    )
    assert await bot.terminate() == 0, bot.log()

    sent = bot.stub.messages_to(USER)
    # A chart with a text goes as two parts, the photo first (a retried text never re-sends it).
    assert [(c.method, c.text) for c in sent] == [
        ("sendMessage", "Nhắc nhở: đơn vị còn thiếu báo cáo."),
        ("sendPhoto", ""),
        ("sendMessage", "Biểu đồ tuần"),
    ]
    photo: Any = sent[1].params["photo"]
    assert photo == {"file_bytes": 9}
    db = Database.from_url(bot.database_url)
    try:
        async with db.read() as session:
            rows = (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()
    finally:
        await db.dispose()
    assert [(r.key, r.status) for r in rows] == [("e2e:text", "sent"), ("e2e:chart", "sent")]


async def test_a_rejected_token_ends_the_run_with_one_line_and_never_prints_it(bot: Bot) -> None:
    bot.stub.reject_token = True  # 401 Unauthorized to getMe, as Telegram answers a bad token
    await bot.start()
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), OUTER)

    output = bot.log()
    assert code != 0
    assert "Telegram từ chối mã bot" in output, output
    assert TOKEN not in output, output
    assert "Traceback" not in output, output
    assert [c.method for c in bot.stub.calls] == ["getMe"]


async def queue_for(database_url: str, people: list[tuple[str, str, str]]) -> None:
    """One outbox message per (channel, chat id, key), each to a new person with that identity."""
    now = datetime.now(UTC)
    db = Database.from_url(database_url)
    try:
        async with db.write() as session:
            for channel, chat_id, key in people:
                person = await create_person(session=session, full_name=f"Người {key}", now=now)
                assert person.id is not None
                await bind_identity(
                    session=session,
                    person_id=person.id,
                    account=ChatAccount(channel, chat_id, chat_id, "vi"),
                    now=now,
                )
                await outbox.enqueue(
                    session=session,
                    key=key,
                    kind="nudge",
                    person_id=person.id,
                    payload=OutgoingMessage(text=f"Nhắc nhở {key}").to_payload(),
                    now=now,
                )
    finally:
        await db.dispose()


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloStub]:
    stub = await ZaloStub.start()
    try:
        yield stub
    finally:
        await stub.stop()


def with_zalo(env: dict[str, str], stub: ZaloStub) -> dict[str, str]:
    return {
        **env,
        "CADREBOT_ZALO_TOKEN": zalo_stub.TOKEN,
        "CADREBOT_ZALO_API_URL": stub.base_url,
    }


async def test_telegram_and_zalo_run_in_one_process(bot: Bot, zalo: ZaloStub) -> None:
    bot.env = with_zalo(bot.env, zalo)
    await queue_for(
        bot.database_url, [(CHANNEL_TELEGRAM, str(USER), "tg:1"), (CHANNEL_ZALO, "zu-1", "za:1")]
    )
    await bot.start()
    await bot.watch(
        bot.stub.wait_for(lambda calls: bot.stub.messages_to(USER) or None, OUTER),
        "the Telegram message",
    )
    await bot.watch(zalo.wait_sent(1, OUTER), "the Zalo message")
    stranger = ZaloUser("zu-stranger")
    zalo.push(ZaloUpdates().text(stranger, "xin chào"))  # Zalo answers too: a polite refusal
    await bot.watch(zalo.wait_sent(2, OUTER), "the Zalo answer")
    assert await bot.terminate() == 0, bot.log()

    assert [c.text for c in bot.stub.messages_to(USER)] == ["Nhắc nhở tg:1"]
    assert zalo.texts("zu-1") == ["Nhắc nhở za:1"]
    assert zalo.texts(stranger.id)
    assert TOKEN not in bot.log() and zalo_stub.TOKEN not in bot.log()
    assert "Traceback" not in bot.log()


async def test_zalo_alone_needs_no_telegram_token(bot: Bot, zalo: ZaloStub) -> None:
    env = with_zalo(bot.env, zalo)
    del env["CADREBOT_TELEGRAM_TOKEN"]
    bot.env = env
    await queue_for(bot.database_url, [(CHANNEL_ZALO, "zu-2", "za:2")])
    await bot.start()
    await bot.watch(zalo.wait_sent(1, OUTER), "the Zalo message")
    assert await bot.terminate() == 0, bot.log()

    assert zalo.texts("zu-2") == ["Nhắc nhở za:2"]
    assert bot.stub.calls == []  # no Telegram at all
    assert "Traceback" not in bot.log()
