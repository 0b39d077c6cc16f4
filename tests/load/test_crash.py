"""Crash: the real `cadrebot run --webhook` is killed with SIGKILL at random points while C
reporters fill in their forms at once and the outbox is draining, and restarted each time on the
same SQLite database. The driver behaves like Telegram and the reporters: a POST is retried until
it gets a 200 (a kill before the answer, or a 500: Telegram delivers the update again; the bot
does not process it again if it had committed it); after a 200 the update is never sent again; a
reporter left without an answer types /baocao.

At the end: every update the driver sent was processed (its `processed_update` row is there: the
bot answers 200 only after the commit, so a kill loses none) and got at least one message in its
chat before its 200 — also one whose first delivery a kill interrupted between its commit and its
reply: the redelivery is a replay, which sends the replies stored with the row again (counted from
the bot's log: "replays that re-sent stored replies"; a reply may so reach the chat twice, the
same text); every receipt the stub saw has its report row (none lost), a reporter's receipts are
all the same text (one report), no unit has two reports or an extra version (none doubled), every
form left unfinished resumes at its question after the last restart, and each outbox key reached
the stub once — except the sender's documented window (a kill between Telegram's answer and the
"sent" commit): those rows are still claimed; the test ages their lease, lets the sender resend
them, and counts them as re-sent (at-least-once), see docs/reliability.md. Also: a kill during
`cadrebot units import` / `cadrebot reports import` leaves either the whole file or nothing.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from storage import outbox
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import (
    CHANNEL_TELEGRAM,
    Outbox,
    ProcessedUpdate,
    Report,
    ReportVersion,
    Unit,
)
from tests.botapi_stub import ApiCall
from tests.load.conftest import (
    CLI,
    CRASH_CONVERSATIONS,
    CRASH_KILLS,
    FIRST_USER,
    IMPORT_KILLS,
    IMPORT_UNITS,
    QUESTIONS,
    RECEIPT,
    SECRET,
    SILENCE,
    BotProcess,
    LoadStub,
    Reporter,
    cli,
    environment,
    prepare_world,
    report,
)

pytestmark = pytest.mark.slow  # minutes each: `pytest -m "not slow"` leaves them out

OUTBOX_CHAT = 990_000
CONVERSATIONS_LIMIT = 1800.0  # seconds for every conversation of the run, kills included


@dataclass(frozen=True)
class Delivery:
    update_id: int
    posts: int  # POSTs until the 200 (more than one: a kill or a 500 came first)
    answered: bool  # a message to the chat, or the button's answer, before the 200
    messages: int  # messages to the chat before the 200 (the first POST's and the replays')
    twice: bool  # a message came twice (sent, a kill before the 200, re-sent by the replay)


@dataclass
class CrashReporter(Reporter):
    """A reporter behind a Telegram that retries a POST until it gets a 200 and never after."""

    deliveries: list[Delivery] = field(default_factory=list)

    async def post_until_ok(self, update: dict[str, Any]) -> int:
        """POST until a 200; the number of POSTs."""
        assert self.client is not None
        posts = 0
        started = time.monotonic()
        while True:
            await self.bot.up.wait()
            posts += 1
            try:
                answer = await self.client.post(
                    self.bot.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                if answer.status_code == 200:
                    return posts
            except httpx.TransportError:
                pass
            if time.monotonic() - started > SILENCE:
                raise AssertionError(f"no 200 for user {self.user}:\n{self.bot.log()[-2000:]}")
            self.resends += 1
            await asyncio.sleep(0.05)

    async def exchange(self, update: dict[str, Any]) -> ApiCall | None:
        """Send one update; the bot's message to this chat that came before the 200 (the bot
        answers 200 only after processing it), or None (answered on the button only, or the
        reply was lost with a kill after the commit)."""
        chat = str(self.user)
        mark = len(self.stub.by_chat[chat])
        query = update["callback_query"]["id"] if "callback_query" in update else None
        posts = await self.post_until_ok(update)
        replies = self.stub.by_chat[chat][mark:]
        answered = bool(replies) or (query is not None and query in self.stub.answers)
        texts = [r.text for r in replies]
        twice = len(set(texts)) < len(texts)
        self.deliveries.append(
            Delivery(int(update["update_id"]), posts, answered, len(replies), twice)
        )
        return replies[0] if replies else None


async def enqueue_outbox(database_url: str, count: int) -> list[str]:
    now = datetime.now(UTC)
    db = Database.from_url(database_url)
    rows = [
        {
            "key": f"crash:{i}",
            "kind": "nudge",
            "person_id": None,
            "channel": CHANNEL_TELEGRAM,
            "chat_id": str(OUTBOX_CHAT + i % 50),
            "payload": OutgoingMessage(text=f"Nhắc nhở kiểm thử số {i}.").to_payload(),
        }
        for i in range(count)
    ]
    try:
        async with db.write() as session:
            keys = await outbox.enqueue_many(session=session, rows=rows, now=now)
    finally:
        await db.dispose()
    return keys


async def outbox_rows(database_url: str) -> list[Outbox]:
    db = Database.from_url(database_url)
    try:
        async with db.read() as session:
            return list((await session.execute(select(Outbox))).scalars())
    finally:
        await db.dispose()


async def wait_outbox(
    database_url: str, alive_since: datetime, within: float = 120
) -> list[Outbox]:
    """Until every row is sent, failed, or claimed before `alive_since` by a killed sender."""
    deadline = time.monotonic() + within
    while True:
        rows = await outbox_rows(database_url)
        waiting = [
            r
            for r in rows
            if r.status == outbox.STATUS_PENDING
            and (r.claimed_at is None or r.claimed_at >= alive_since)
        ]
        if not waiting:
            return rows
        assert time.monotonic() < deadline, Counter(r.status for r in rows)
        await asyncio.sleep(0.2)


async def reports_by_unit(database_url: str) -> dict[str, tuple[int, int, int]]:
    """unit code -> (reports, max current version, versions)."""
    db = Database.from_url(database_url)
    try:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(
                        col(Unit.code),
                        func.count(func.distinct(col(Report.id))),
                        func.max(col(Report.current_version)),
                        func.count(col(ReportVersion.id)),
                    )
                    .join(Report, col(Report.unit_id) == col(Unit.id))
                    .join(ReportVersion, col(ReportVersion.report_id) == col(Report.id))
                    .group_by(col(Unit.code))
                )
            ).all()
    finally:
        await db.dispose()
    return {str(code): (int(n), int(v), int(nv)) for code, n, v, nv in rows}


async def processed_updates(database_url: str) -> set[int]:
    db = Database.from_url(database_url)
    try:
        async with db.read() as session:
            ids = await session.execute(
                select(col(ProcessedUpdate.update_id)).where(
                    col(ProcessedUpdate.channel) == CHANNEL_TELEGRAM
                )
            )
            return {int(i) for i in ids.scalars()}
    finally:
        await db.dispose()


@dataclass
class CrashBot(BotProcess):
    """The bot at log level INFO, so its replays show in run.log ("update N replayed; k messages
    sent again")."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "CADREBOT_LOG_LEVEL": "INFO"}


REPLAYED = re.compile(r"update \d+ replayed; (\d+) messages sent again")


def unit_code(user: int) -> str:
    return f"CS{user - FIRST_USER:05d}"


async def test_sigkill_during_conversations_and_outbox(stub: LoadStub, tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    users = await prepare_world(database_url, tmp_path, CRASH_CONVERSATIONS)
    keys = await enqueue_outbox(database_url, 3 * CRASH_CONVERSATIONS)
    rng = random.Random(20160930)
    bot = CrashBot(stub, database_url, tmp_path, webhook=True)
    await bot.start()
    kills = 0
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            people = [
                CrashReporter(user, bot, client, stop_at=rng.randint(1, 6) if i % 4 == 0 else None)
                for i, user in enumerate(users)
            ]
            talk: asyncio.Future[list[None]] = asyncio.ensure_future(
                asyncio.gather(*(p.converse() for p in people))
            )
            while kills < CRASH_KILLS and not talk.done():
                target = len(stub.calls) + rng.randint(3, 40)
                waiting = asyncio.ensure_future(stub.wait_calls(target))
                await asyncio.wait([waiting, talk], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
                waiting.cancel()
                if talk.done():
                    break
                if rng.random() < 0.5:
                    await asyncio.sleep(rng.uniform(0, 0.03))  # between two calls, not on one
                await bot.kill()
                kills += 1
                await bot.start()
            # Bounded: a script that no longer fits the form must fail, not hang CI.
            await asyncio.wait_for(talk, CONVERSATIONS_LIMIT)
            assert kills >= CRASH_KILLS, f"the conversations ended after {kills} kills"

            # One more kill with forms open, then every unfinished form resumes at its question.
            await bot.kill()
            kills += 1
            alive_since = datetime.now(UTC)
            await bot.start()
            unfinished = [p for p in people if not p.done]
            for person in unfinished:
                answer = await person.exchange(person._update(text="/baocao"))
                assert answer is not None
                assert f"Câu {person.asked}/{QUESTIONS}" in answer.text, (person.asked, answer.text)

            # The outbox: each key once, except rows a kill left claimed after Telegram's answer.
            rows = await wait_outbox(database_url, alive_since)
            window = {r.key for r in rows if r.status == outbox.STATUS_PENDING}
            db = Database.from_url(database_url)
            try:
                async with db.write() as session:
                    await session.execute(
                        update(Outbox)
                        .where(col(Outbox.key).in_(window))
                        .values(
                            claimed_at=datetime.now(UTC) - outbox.CLAIM_LEASE - timedelta(minutes=1)
                        )
                    )
            finally:
                await db.dispose()
            rows = await wait_outbox(database_url, datetime(2000, 1, 1, tzinfo=UTC))
            assert {r.status for r in rows} == {outbox.STATUS_SENT}
        duration = time.monotonic() - started
        assert await bot.terminate() == 0
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()

    by_unit = await reports_by_unit(database_url)
    processed_ids = await processed_updates(database_url)
    deliveries = [d for p in people for d in p.deliveries]
    unprocessed = [d for d in deliveries if d.update_id not in processed_ids]
    unanswered = [d for d in deliveries if d.messages == 0]
    replays = [int(n) for n in REPLAYED.findall(bot.log())]
    receipts = {u: stub.receipts(u) for u in users}
    receipt_texts = {u: {c.text for c in stub.by_chat[str(u)] if RECEIPT in c.text} for u in users}
    lost = [u for u, n in receipts.items() if n and unit_code(u) not in by_unit]
    lost += [p.user for p in people if p.done and unit_code(p.user) not in by_unit]
    doubled = [code for code, (n, v, nv) in by_unit.items() if (n, v, nv) != (1, 1, 1)]
    unexpected = [p.user for p in people if not p.done and unit_code(p.user) in by_unit]
    texts = Counter(
        c.text
        for c in stub.calls
        if c.method == "sendMessage" and c.chat_id and int(c.chat_id) >= OUTBOX_CHAT
    )
    sent = {key: texts[f"Nhắc nhở kiểm thử số {key.split(':')[1]}."] for key in keys}
    missing = [k for k, n in sent.items() if n == 0]
    resent = [k for k, n in sent.items() if n > 1]
    outside_window = [k for k in resent if k not in window or sent[k] > 2]
    report(
        "crash",
        {
            "conversations": len(people),
            "kills": kills,
            "restarts": bot.starts - 1,
            "reports": len(by_unit),
            "receipts": sum(receipts.values()),
            "receipts lost with a kill": sum(1 for p in people if p.done and receipts[p.user] == 0),
            "unfinished forms resumed": len(unfinished),
            "updates": len(deliveries),
            "redelivered updates": sum(p.resends for p in people),
            "updates acknowledged but not processed": len(unprocessed),
            "updates answered (a message before the 200)": sum(d.messages > 0 for d in deliveries),
            "updates without an answer": len(unanswered),
            "replays": len(replays),
            "replays that re-sent stored replies": sum(n > 0 for n in replays),
            "messages re-sent on replay": sum(replays),
            "updates answered twice (sent, then re-sent on its replay)": sum(
                d.twice for d in deliveries
            ),
            "receipts sent twice (re-sent on a replay)": sum(
                max(0, n - 1) for n in receipts.values()
            ),
            "losses": len(lost),
            "duplicates": len(doubled),
            "outbox keys": len(keys),
            "outbox sent once": sum(n == 1 for n in sent.values()),
            "outbox re-sent in the documented window": len(resent),
            "outbox duplicates outside the window": len(outside_window),
            "duration": f"{duration:.1f} s",
        },
    )
    assert not unprocessed, unprocessed  # no acknowledged update is lost any more
    assert not unanswered, unanswered  # every update got a reply, a kill or not
    assert not lost and not doubled and not unexpected
    assert all(len(texts) <= 1 for texts in receipt_texts.values())  # re-sent: the same receipt
    assert all(receipts[p.user] >= 1 for p in people if p.done)  # no receipt lost with a kill
    assert not missing and not outside_window
    assert len(by_unit) == sum(p.done for p in people)


# ------------------------------------------------------------------------------------- imports


def units_csv(path: Path, count: int) -> None:
    lines = [
        "code,name,level,parent_code,members",
        "T,Tỉnh ủy,tinh,,100000",
        "H,Huyện ủy,huyen,T,50000",
    ]
    lines += [f"U{i:06d},Chi bộ {i},co_so,H,{10 + i % 50}" for i in range(count - 2)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def killed_run(args: list[str], env: dict[str, str], cwd: Path, after: float) -> bool:
    """Run the command and SIGKILL it `after` seconds in; True if it was still running."""
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await asyncio.wait_for(process.wait(), after)
        return False
    except TimeoutError:
        process.send_signal(signal.SIGKILL)
        await process.wait()
        return True


async def count(database_url: str, model: type) -> int:
    db = Database.from_url(database_url)
    try:
        async with db.read() as session:
            return int(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )
    finally:
        await db.dispose()


async def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.monotonic()
    await asyncio.to_thread(cli, env, cwd, *args)
    return time.monotonic() - started


async def test_sigkill_during_units_import_is_all_or_nothing(tmp_path: Path) -> None:
    base = tmp_path / "base.db"
    env = environment(f"sqlite+aiosqlite:///{base}", "http://127.0.0.1:9/bot")
    cli(env, tmp_path, "init")
    units_csv(tmp_path / "units.csv", IMPORT_UNITS)
    # How long a whole import takes (on a copy), to kill inside it.
    probe = tmp_path / "probe.db"
    shutil.copyfile(base, probe)
    full = await timed(
        ["units", "import", "units.csv"], environment(f"sqlite+aiosqlite:///{probe}", "x"), tmp_path
    )
    assert await count(f"sqlite+aiosqlite:///{probe}", Unit) == IMPORT_UNITS
    rng = random.Random(42)
    outcomes: Counter[str] = Counter()
    for attempt in range(IMPORT_KILLS):
        target = tmp_path / f"kill{attempt}.db"
        shutil.copyfile(base, target)
        url = f"sqlite+aiosqlite:///{target}"
        killed = await killed_run(
            ["units", "import", "units.csv"],
            environment(url, "x"),
            tmp_path,
            rng.uniform(0.2, 1.0) * full,
        )
        found = await count(url, Unit)
        assert found in (0, IMPORT_UNITS), f"half an import: {found} units"
        outcomes[
            "killed: nothing"
            if killed and not found
            else "killed: everything"
            if killed
            else "finished"
        ] += 1
        # The interrupted import runs again to the end.
        cli(environment(url, "x"), tmp_path, "units", "import", "units.csv")
        assert await count(url, Unit) == IMPORT_UNITS
    report(
        "units import kill",
        {"rows": IMPORT_UNITS, "full run": f"{full:.1f} s", **outcomes, "half imports": 0},
    )
    assert outcomes["finished"] < IMPORT_KILLS


async def test_sigkill_during_reports_import_is_all_or_nothing(
    stub: LoadStub, tmp_path: Path
) -> None:
    rows = IMPORT_UNITS // 20  # paper reports import at ~100 rows/s
    base_url = f"sqlite+aiosqlite:///{tmp_path / 'base.db'}"
    await prepare_world(base_url, tmp_path, rows)
    lines = ["unit_code,session_date,duration_halfdays,members,attended,essays"]
    lines += [f"CS{i:05d},20/8/2016,2,30,{20 + i % 10},{10 + i % 10}" for i in range(rows)]
    (tmp_path / "reports.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = [
        "reports",
        "import",
        "reports.csv",
        "--campaign",
        "13-KH/TU",
        "--deliverable",
        "hoi_nghi",
    ]
    probe = tmp_path / "probe.db"
    shutil.copyfile(tmp_path / "base.db", probe)
    full = await timed(args, environment(f"sqlite+aiosqlite:///{probe}", "x"), tmp_path)
    assert await count(f"sqlite+aiosqlite:///{probe}", Report) == rows
    rng = random.Random(43)
    outcomes: Counter[str] = Counter()
    for attempt in range(IMPORT_KILLS):
        target = tmp_path / f"kill{attempt}.db"
        shutil.copyfile(tmp_path / "base.db", target)
        url = f"sqlite+aiosqlite:///{target}"
        killed = await killed_run(
            args, environment(url, "x"), tmp_path, rng.uniform(0.3, 1.0) * full
        )
        found = (await count(url, Report), await count(url, ReportVersion))
        assert found in ((0, 0), (rows, rows)), f"half an import: {found}"
        outcomes[
            "killed: nothing"
            if killed and not found[0]
            else "killed: everything"
            if killed
            else "finished"
        ] += 1
        cli(environment(url, "x"), tmp_path, *args)
        assert (await count(url, Report), await count(url, ReportVersion)) == (rows, rows)
    report(
        "reports import kill",
        {"rows": rows, "full run": f"{full:.1f} s", **outcomes, "half imports": 0},
    )
    assert outcomes["finished"] < IMPORT_KILLS
