"""`cadrebot remind` and `cadrebot digest` against a SQLite file with the reference campaign:
--dry-run prints and writes nothing; a real run queues each message once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.schedule import register
from storage.db import Database
from storage.models import ROLE_ADMIN, ROLE_REPORTER, ROLE_SUPERVISOR, Outbox, Unit, metadata
from storage.people import ChatAccount, bind_identity
from tests.factories import make_person, pk
from tests.figures_fixtures import reference_tree

# Monday 3/10/2016 08:00 in Hanoi: this week's digest is due (Monday 07:30).
DIGEST_NOW = "2016-10-03T08:00:00+07:00"
# Thursday 8/9/2016 08:30 in Hanoi: C21 is 8 days late with its study session (due 31/8): an
# overdue reminder to its reporter (day +8) and an escalation to H2's supervisor (Thursday is an
# escalation day; the earlier overdue days 2/9 and 4/9 were a holiday and a Sunday).
REMIND_NOW = "2016-09-08T08:30:00+07:00"


@dataclass
class World:
    url: str
    sup: int  # supervisor of H2
    admin: int
    reporter: int  # reporter of C21
    reporter_unit: int


@pytest.fixture
def world(tmp_path: Path) -> World:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"

    async def build() -> World:
        db = Database.from_url(url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with db.write() as session:
                ref = await reference_tree(session)
                h2 = await session.get(Unit, ref.builder.id("H2"))
                c21 = await session.get(Unit, ref.builder.id("C21"))
                sup = await make_person(session, "Phạm Văn Giám", roles=[(ROLE_SUPERVISOR, h2)])
                admin = await make_person(session, "Vũ Văn Quản", roles=[(ROLE_ADMIN, None)])
                reporter = await make_person(
                    session, "Trần Văn Báo", "0987 654 321", roles=[(ROLE_REPORTER, c21)]
                )
                # The supervisor uses Zalo; the reporter never connected a chat account.
                await bind_identity(
                    session=session,
                    person_id=pk(sup),
                    account=ChatAccount("zalo", "zu-sup", "zu-sup"),
                    now=datetime(2016, 5, 1, tzinfo=UTC),
                )
            return World(url, pk(sup), pk(admin), pk(reporter), ref.builder.id("C21"))
        finally:
            await db.dispose()

    return asyncio.run(build())


def _invoke(world: World, *args: str) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, list(args), env={"CADREBOT_DATABASE_URL": world.url})
    return result.exit_code, result.output


def _outbox(world: World) -> list[tuple[str, int, str]]:
    async def read() -> list[tuple[str, int, str]]:
        db = Database.from_url(world.url)
        try:
            async with db.read() as session:
                rows = await session.execute(
                    select(Outbox.key, Outbox.person_id, Outbox.kind).order_by(Outbox.key)  # type: ignore[call-overload]
                )
                return [(k, p, kind) for k, p, kind in rows.all()]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_digest_dry_run_for_one_person_prints_it_and_writes_nothing(world: World) -> None:
    code, out = _invoke(world, "digest", "--to", str(world.sup), "--dry-run", "--now", DIGEST_NOW)
    assert code == 0, out
    assert f"Gửi tới: Phạm Văn Giám (số {world.sup}) · khóa: digest:{world.sup}:2016-W40" in out
    assert "Bản tổng hợp tuần 40/2016 — Đợt học tập 13-KH/TU" in out
    assert "- Đảng bộ C21 (C21): (1), (3)" in out
    assert "[kèm biểu đồ PNG, " in out
    assert "Chạy thử: 1 tin sẽ được gửi; chưa ghi gì vào hàng đợi." in out
    assert _outbox(world) == []


def test_digest_for_everyone_queued_once(world: World) -> None:
    code, out = _invoke(world, "digest", "--dry-run", "--now", DIGEST_NOW)
    assert code == 0, out
    assert "Phạm Văn Giám" in out and "Vũ Văn Quản" in out and "Trần Văn Báo" not in out
    assert _outbox(world) == []

    code, out = _invoke(world, "digest", "--now", DIGEST_NOW)
    assert code == 0, out
    assert "Đã xếp hàng 2 bản tổng hợp mới." in out
    rows = _outbox(world)
    assert sorted(rows) == sorted(
        [
            (f"digest:{world.sup}:2016-W40", world.sup, "digest"),
            (f"digest:{world.admin}:2016-W40", world.admin, "digest"),
        ]
    )
    code, out = _invoke(world, "digest", "--now", DIGEST_NOW)
    assert "Đã xếp hàng 0 bản tổng hợp mới." in out
    assert _outbox(world) == rows
    # A dry run now shows nothing left to send; for one person it says it is already queued.
    assert "Chạy thử: 0 tin" in _invoke(world, "digest", "--dry-run", "--now", DIGEST_NOW)[1]
    _, out = _invoke(world, "digest", "--to", str(world.sup), "--dry-run", "--now", DIGEST_NOW)
    assert "đã có trong hàng đợi" in out and "Chạy thử: 0 tin" in out


def test_digest_for_one_person_only(world: World) -> None:
    code, out = _invoke(world, "digest", "--to", str(world.sup), "--now", DIGEST_NOW)
    assert code == 0, out
    assert _outbox(world) == [(f"digest:{world.sup}:2016-W40", world.sup, "digest")]
    _, out = _invoke(world, "digest", "--to", str(world.reporter), "--now", DIGEST_NOW)
    assert "Không có bản tổng hợp nào cho Trần Văn Báo" in out
    code, out = _invoke(world, "digest", "--to", "999", "--now", DIGEST_NOW)
    assert code == 1 and "Không có người dùng số 999." in out
    assert len(_outbox(world)) == 1


def test_remind_dry_run_prints_planned_messages_and_writes_nothing(world: World) -> None:
    code, out = _invoke(world, "remind", "--dry-run", "--now", REMIND_NOW)
    assert code == 0, out
    assert f"khóa: remind:{world.reporter}:{world.reporter_unit}:2016-09-08" in out
    assert f"khóa: escalate:{world.sup}:2016-09-08" in out
    assert "Đảng bộ C21" in out
    will, cannot = out.split("Không gửi được (chưa kết nối tài khoản chat), cần gọi trực tiếp:")
    assert will.startswith("Sẽ gửi:") and f"escalate:{world.sup}:" in will
    assert f"remind:{world.reporter}:" not in will
    assert f"• Trần Văn Báo (số {world.reporter}), điện thoại: 0987 654 321" in cannot
    assert "Chạy thử: 1 tin sẽ gửi, 1 tin không gửi được (chưa kết nối)" in out
    assert _outbox(world) == []


def test_remind_queues_once(world: World) -> None:
    code, out = _invoke(world, "remind", "--now", REMIND_NOW)
    assert code == 0, out
    assert "Đã xếp hàng 1 lời nhắc và 1 tin đôn đốc mới." in out
    rows = _outbox(world)
    assert sorted(kind for _, _, kind in rows) == ["escalation", "reminder"]
    code, out = _invoke(world, "remind", "--campaign", "13-KH/TU", "--now", REMIND_NOW)
    assert code == 0 and "Đã xếp hàng 0 lời nhắc và 0 tin đôn đốc mới." in out
    assert _outbox(world) == rows
    assert "Chạy thử: 0 tin" in _invoke(world, "remind", "--dry-run", "--now", REMIND_NOW)[1]


def test_remind_for_one_campaign_and_unknown_campaign(world: World) -> None:
    code, out = _invoke(world, "remind", "--campaign", "1", "--now", REMIND_NOW)
    assert code == 0 and "Đã xếp hàng 1 lời nhắc và 1 tin đôn đốc mới." in out
    code, out = _invoke(world, "remind", "--campaign", "99-KH/TU", "--now", REMIND_NOW)
    assert code == 1 and "Không có đợt học tập đang mở nào có mã hoặc số 99-KH/TU." in out
    code, out = _invoke(world, "remind", "--now", "2016-09-08T08:30")
    assert code == 2  # a naive --now is refused
