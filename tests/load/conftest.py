"""Shared machinery of the load and crash tests: size knobs, a world of N reporters prepared through
the real command line and storage, the real `cadrebot run` in a subprocess against a recording Bot
API stub (tests/botapi_stub.py, indexed per chat), and a reporter that drives one conversation the
way a person (and Telegram) would.

Sizes: reduced by default (CI); CADREBOT_LOAD_FULL=1 runs the issue's full sizes.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.models import CHANNEL_TELEGRAM, ROLE_REPORTER, ChatIdentity, Person, Role, Unit
from storage.tree import child_path, depth_of
from tests.botapi_stub import ApiCall, BotApiStub

FULL = os.environ.get("CADREBOT_LOAD_FULL") == "1"
LOAD_REPORTERS = 1000 if FULL else 100
LOAD_REPORTERS_PG = 1000 if FULL else 30
POLL_REPORTERS = 300 if FULL else 30
CRASH_CONVERSATIONS = 200 if FULL else 40
CRASH_KILLS = 20 if FULL else 5
IMPORT_UNITS = 300_000 if FULL and os.environ.get("CADREBOT_LOAD_300K") else 20_000
IMPORT_KILLS = 6 if FULL else 3

TOKEN = "123:LOAD"
SECRET = "load-test-secret"
CLI = [sys.executable, "-c", "from bot.cli.main import main; main()"]
FIRST_USER = 810_000
MEMBERS = 30
RECEIPT = "Đã ghi nhận"
ALREADY = "đã được ghi nhận rồi"
# The session form, question by question (7: the presenter's standing, a choice typed by number).
ANSWERS = {
    1: "28-8-2016",
    2: "2",
    3: "30",
    4: "28 đồng chí",
    5: "0",
    6: "Bỏ qua",
    7: "1",
    8: "27",
}
QUESTIONS = len(ANSWERS)
SILENCE = 60.0  # seconds without any answer to a fresh update while the bot is up: a failure
# Bound (never slept) on start-up and on the exit after SIGTERM: generous, so that a machine busy
# with other work never fails a run by being slow to start.
OUTER = 120.0


def report(title: str, figures: dict[str, object]) -> None:
    """Print the run's figures (shown by pytest -s, and in the captured output on failure)."""
    line = ", ".join(f"{k} = {v}" for k, v in figures.items())
    print(f"\n[{title}] {line}", flush=True)


# ------------------------------------------------------------------------------------- the stub


class LoadStub(BotApiStub):
    """The Bot API stub, with the calls indexed per chat and per callback query (a thousand
    waiting reporters would otherwise rescan every call on every call)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by_chat: dict[str, list[ApiCall]] = defaultdict(list)
        self.answers: dict[str, ApiCall] = {}
        self.arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.total = asyncio.Event()

    async def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        key: str | None = None
        if call.method in {"sendMessage", "sendPhoto", "sendDocument"} and call.chat_id:
            self.by_chat[call.chat_id].append(call)
            key = call.chat_id
        elif call.method == "answerCallbackQuery":
            query = str(call.params.get("callback_query_id"))
            self.answers[query] = call
            key = query
        if key is not None:
            self.arrived[key].set()
        self.total.set()

    async def wait_key(self, key: str, seconds: float) -> None:
        event = self.arrived[key]
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return

    async def wait_calls(self, count: int) -> None:
        """Until at least `count` calls were recorded."""
        while len(self.calls) < count:
            self.total.clear()
            await self.total.wait()

    def receipts(self, chat_id: int) -> int:
        return sum(RECEIPT in c.text for c in self.by_chat[str(chat_id)])


@pytest.fixture
async def stub() -> AsyncIterator[LoadStub]:
    server = LoadStub(token=TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


# ------------------------------------------------------------------------------------- the world


def cli(env: dict[str, str], cwd: Path, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def environment(database_url: str, api_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADREBOT_")}
    env.update(
        CADREBOT_DATABASE_URL=database_url,
        CADREBOT_TELEGRAM_TOKEN=TOKEN,
        CADREBOT_TELEGRAM_API_URL=api_url,
        CADREBOT_LOG_LEVEL="WARNING",
        CADREBOT_SEND_RATE="200",
    )
    env.update(more)
    return env


async def prepare_world(database_url: str, workdir: Path, reporters: int) -> list[int]:
    """`cadrebot init`, then a province, a district, `reporters` grassroots units of 30 members,
    the built-in campaign, and one reporter per unit with a Telegram identity. The Telegram user
    ids, in unit order."""
    await asyncio.to_thread(
        cli, environment(database_url, "http://127.0.0.1:9/bot"), workdir, "init"
    )
    now = datetime.now(UTC)
    db = Database.from_url(database_url)
    users = [FIRST_USER + i for i in range(reporters)]
    try:
        async with db.write() as session:
            rows: list[dict[str, Any]] = []
            province_path = child_path(None, 1)
            district_path = child_path(province_path, 2)
            for ident, code, level, parent, path, members in (
                (1, "T", "tinh", None, province_path, 1000),
                (2, "H", "huyen", 1, district_path, 500),
            ):
                rows.append(_unit(ident, code, level, parent, path, members, now))
            for i in range(reporters):
                ident = 3 + i
                path = child_path(district_path, ident)
                rows.append(_unit(ident, f"CS{i:05d}", "co_so", 2, path, MEMBERS, now))
            await session.execute(insert(Unit), rows)
            await load_campaign(
                session=session, definition=parse_definition(template_text()), now=now
            )
            await session.execute(
                insert(Person),
                [
                    {"id": 1 + i, "full_name": f"Bí thư {i}", "created_at": now}
                    for i in range(reporters)
                ],
            )
            await session.execute(
                insert(Role),
                [
                    {"person_id": 1 + i, "kind": ROLE_REPORTER, "unit_id": 3 + i, "created_at": now}
                    for i in range(reporters)
                ],
            )
            await session.execute(
                insert(ChatIdentity),
                [
                    {
                        "person_id": 1 + i,
                        "channel": CHANNEL_TELEGRAM,
                        "external_id": str(user),
                        "chat_id": str(user),
                        "language_code": "vi",
                        "bound_at": now,
                        "last_seen_at": now,
                    }
                    for i, user in enumerate(users)
                ],
            )
            if session.get_bind().dialect.name == "postgresql":
                for table in ("unit", "person"):
                    await session.execute(
                        select(_setval(table))  # keep the sequences past the explicit ids
                    )
    finally:
        await db.dispose()
    return users


def _setval(table: str) -> Any:
    from sqlalchemy import text

    return text(f"setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _unit(
    ident: int, code: str, level: str, parent: int | None, path: str, members: int, now: datetime
) -> dict[str, Any]:
    return {
        "id": ident,
        "code": code,
        "name": f"Đơn vị {code}",
        "level_code": level,
        "parent_id": parent,
        "path": path,
        "depth": depth_of(path),
        "members": members,
        "active": True,
        "created_at": now,
        "updated_at": now,
    }


# ------------------------------------------------------------------------------------- the bot


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BotProcess:
    """`cadrebot run [--webhook]` in a subprocess; killed and restarted by the crash test."""

    stub: LoadStub
    database_url: str
    workdir: Path
    webhook: bool
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    generation: int = 0
    up: asyncio.Event = field(default_factory=asyncio.Event)
    starts: int = 0

    @property
    def env(self) -> dict[str, str]:
        more = {}
        if self.webhook:
            more = {
                "CADREBOT_WEBHOOK_URL": f"http://127.0.0.1:{self.port}/telegram",
                "CADREBOT_WEBHOOK_LISTEN": "127.0.0.1",
                "CADREBOT_WEBHOOK_PORT": str(self.port),
                "CADREBOT_WEBHOOK_SECRET": SECRET,
            }
        return environment(self.database_url, self.stub.base_url, **more)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"

    async def start(self) -> None:
        log = (self.workdir / "run.log").open("ab")
        args = ["run", "--webhook"] if self.webhook else ["run"]
        self.process = await asyncio.create_subprocess_exec(
            *CLI, *args, env=self.env, cwd=self.workdir, stdout=log, stderr=log
        )
        log.close()
        self.starts += 1
        await self._ready()
        self.up.set()

    async def _ready(self, within: float = OUTER) -> None:
        deadline = time.monotonic() + within
        if self.webhook:
            async with httpx.AsyncClient(timeout=120.0) as client:
                while time.monotonic() < deadline:
                    self._check_alive()
                    try:
                        answer = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                        if answer.status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)
        else:
            mark = len(self.stub.calls)
            while time.monotonic() < deadline:
                self._check_alive()
                if any(c.method == "getUpdates" for c in self.stub.calls[mark:]):
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"the bot did not start:\n{self.log()[-3000:]}")

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.returncode is not None:
            raise AssertionError(
                f"the bot exited ({self.process.returncode}):\n{self.log()[-3000:]}"
            )

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        self.up.clear()
        self.generation += 1
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        assert self.process is not None
        self.up.clear()
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), OUTER)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"no exit {OUTER:.0f} s after SIGTERM") from None

    def log(self) -> str:
        path = self.workdir / "run.log"
        return path.read_text(errors="replace") if path.exists() else ""


# ------------------------------------------------------------------------------------- reporters


@dataclass
class Reporter:
    """One person filing the study-session report; redelivers like Telegram after a crash."""

    user: int
    bot: BotProcess
    client: httpx.AsyncClient | None
    stop_at: int | None = None  # leave the form open after answering this many questions
    asked: int = 0  # the question number the bot asked last ("Câu k/8")
    done: bool = False
    resends: int = 0
    resumes: int = 0
    update_seq: int = 0

    @property
    def stub(self) -> LoadStub:
        return self.bot.stub

    def _update(
        self, *, text: str | None = None, data: str | None = None, mid: int = 0
    ) -> dict[str, Any]:
        if text is not None:
            return self.stub.text_update(self.user, text)
        assert data is not None
        return self.stub.callback_update(self.user, data, mid)

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand the update to the bot: POST to the webhook (retried while the bot is down, as
        Telegram does when the POST fails), or queue it for getUpdates."""
        if self.client is None:
            await self.stub.push(update)
            return
        while True:
            await self.bot.up.wait()
            try:
                answer = await self.client.post(
                    self.bot.url,
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
            except httpx.TransportError:
                await asyncio.sleep(0.05)
                continue
            if answer.status_code == 200:
                return
            await asyncio.sleep(0.05)

    async def exchange(self, update: dict[str, Any]) -> ApiCall | None:
        """Send one update and wait for the bot's next message to this chat. A kill while
        waiting: the same update again (redelivery; the bot ignores it if it had committed).
        None when the bot answered only on the button (a stale press) or stayed silent after a
        redelivery it had already handled."""
        chat = str(self.user)
        mark = len(self.stub.by_chat[chat])
        query = update["callback_query"]["id"] if "callback_query" in update else None
        redelivered = False
        while True:
            generation = self.bot.generation
            await self.deliver(update)
            started = time.monotonic()
            while True:
                if len(self.stub.by_chat[chat]) > mark:
                    return self.stub.by_chat[chat][mark]
                answered = self.stub.answers.get(query) if query is not None else None
                if answered is not None and answered.params.get("text"):
                    return None  # a press answered on the button only
                if self.bot.generation != generation:
                    break  # killed since: redeliver to the new process
                waited = time.monotonic() - started
                if redelivered and waited > 3.0:
                    return None  # handled before the kill, answer lost with the process
                if waited > SILENCE:
                    raise AssertionError(f"silence for user {self.user}:\n{self.bot.log()[-2000:]}")
                await self.stub.wait_key(query or chat, 0.2)
                if query is not None and len(self.stub.by_chat[chat]) <= mark:
                    await self.stub.wait_key(chat, 0.05)
            await self.bot.up.wait()
            redelivered = True
            self.resends += 1

    async def converse(self) -> None:
        reply = await self.exchange(self._update(text="/baocao"))
        while not self.done:
            action = self.next_action(reply)
            if action is None:
                return  # stopping here on purpose (an unfinished form)
            reply = await self.exchange(action)

    def next_action(self, reply: ApiCall | None) -> dict[str, Any] | None:
        if reply is None:
            self.resumes += 1
            return self._update(text="/baocao")
        text = reply.text
        if RECEIPT in text or ALREADY in text:
            self.done = True
            return None
        found = re.search(rf"Câu (\d+)/{QUESTIONS}", text)
        if found is not None:
            self.asked = int(found.group(1))
        if self.stop_at is not None and self.asked > self.stop_at:
            return None
        for label in ("Xác nhận", "Hội nghị học tập"):
            data = _button(reply, label)
            if data is not None:
                assert reply.message_id is not None
                return self._update(data=data, mid=reply.message_id)
        if found is not None:
            return self._update(text=ANSWERS[self.asked])
        if reply.buttons() and "Hội nghị" not in text:
            # /baocao offered only the other deliverables: the session report is in already
            # (its receipt was lost with a killed process).
            self.done = True
            return None
        self.resumes += 1
        return self._update(text="/baocao")


def _button(call: ApiCall, label: str) -> str | None:
    for b in call.buttons():
        if label in str(b.get("text")):
            return str(b["callback_data"])
    return None


def shuffled(items: list[int], seed: int) -> list[int]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy
