"""The `cadrebot people` and `cadrebot invite` commands, end to end on a temporary SQLite file."""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli.main import app
from storage.db import Database
from storage.invites import RedeemStatus, hash_code, redeem_invite
from storage.models import CHANNEL_TELEGRAM, Invite, Person, Role, Unit
from storage.people import ChatAccount
from tests.factories import make_unit

BOT = "cadre_test_bot"
LINK = re.compile(rf"https://t\.me/{BOT}\?start=([A-Za-z0-9_-]{{11,64}})")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, str]]:
    """A runner against a fresh database created by `cadrebot init`, with a small tree."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"
    env = {"CADREBOT_DATABASE_URL": url, "CADREBOT_BOT_USERNAME": BOT, "COLUMNS": "300"}
    runner = CliRunner(env=env)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    asyncio.run(_seed(url))
    yield runner, url


async def _seed(url: str) -> None:
    db = Database.from_url(url)
    try:
        async with db.write() as session:
            t = await make_unit(session, "T", level="tinh", name="Tỉnh ủy Bắc Ninh")
            h1 = await make_unit(session, "H1", parent=t, level="huyen", name="Huyện ủy Tiên Du")
            h2 = await make_unit(session, "H2", parent=t, level="huyen", name="Thành ủy Bắc Ninh")
            await make_unit(session, "X1", parent=h1, name="Đảng ủy xã Phú Lâm")
            await make_unit(session, "X2", parent=h1, name="Đảng ủy xã Nội Duệ")
            await make_unit(session, "X3", parent=h2, name="Đảng ủy phường Vũ Ninh")
            await make_unit(session, "X4", parent=h2, name="Chi bộ giải thể", active=False)
    finally:
        await db.dispose()


async def _query(url: str, statement: Any) -> list[Any]:
    db = Database.from_url(url)
    try:
        async with db.read() as session:
            return list((await session.execute(statement)).all())
    finally:
        await db.dispose()


def test_bulk_invites_write_a_csv_with_one_working_link_per_unit(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    out = tmp_path / "invites.csv"
    result = runner.invoke(
        app,
        [
            "invite",
            "create",
            "--role",
            "reporter",
            "--all-units",
            "--level",
            "co_so",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Vietnamese correctly
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        "Mã đơn vị",
        "Tên đơn vị",
        "Cấp",
        "Vai trò",
        "Họ tên",
        "Mã mời",
        "Liên kết",
        "Hết hạn",
        "Trên Zalo",
    ]
    body = rows[1:]
    assert [row[0] for row in body] == ["X1", "X2", "X3"]  # active grassroots units only
    assert body[0][1] == "Đảng ủy xã Phú Lâm" and body[0][2] == "Cấp cơ sở"
    codes = []
    for row in body:
        assert row[4] == ""  # nobody imported for these units: the invite names nobody
        match = LINK.fullmatch(row[6])
        assert match is not None and match.group(1) == row[5]
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", row[7])
        assert row[8] == f"Trên Zalo: nhắn mã {row[5]} cho trợ lý (tin nhắn chỉ cần có mã)."
        codes.append(row[5])
    assert len(set(codes)) == 3
    stored = dict(
        _row
        for _row in asyncio.run(
            _query(url, select(col(Invite.code_hash), col(Unit.code)).join(Unit))
        )
    )
    assert {stored[hash_code(code)] for code in codes} == {"X1", "X2", "X3"}

    async def _use(code: str) -> RedeemStatus:
        db = Database.from_url(url)
        try:
            async with db.write() as session:
                outcome = await redeem_invite(
                    session=session,
                    code=code,
                    account=ChatAccount(CHANNEL_TELEGRAM, "555"),
                    display_name="Nguyễn Văn An",
                    now=datetime.now(UTC) + timedelta(minutes=1),
                )
                return outcome.status
        finally:
            await db.dispose()

    assert asyncio.run(_use(codes[1])) is RedeemStatus.SUCCESS


def test_bulk_invites_under_a_branch_and_option_checks(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, _ = cli
    out = tmp_path / "h2.csv"
    result = runner.invoke(
        app,
        [
            "invite",
            "create",
            "--role",
            "reporter",
            "--all-units",
            "--under",
            "H2",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        assert [row[0] for row in list(csv.reader(handle))[1:]] == ["H2", "X3"]
    missing_output = runner.invoke(app, ["invite", "create", "--role", "reporter", "--all-units"])
    assert missing_output.exit_code == 1
    no_unit = runner.invoke(app, ["invite", "create", "--role", "reporter"])
    assert no_unit.exit_code == 1 and "--unit" in no_unit.output
    unknown = runner.invoke(app, ["invite", "create", "--role", "reporter", "--unit", "ZZ"])
    assert unknown.exit_code == 1 and "ZZ" in unknown.output


def test_single_invite_printed_once_listed_without_code_and_revoked(
    cli: tuple[CliRunner, str],
) -> None:
    runner, url = cli
    result = runner.invoke(
        app,
        [
            "invite",
            "create",
            "--role",
            "supervisor",
            "--unit",
            "H1",
            "--name",
            "Đỗ Văn E",
            "--days",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    match = LINK.search(result.output)
    assert match is not None
    code = match.group(1)
    listed = runner.invoke(app, ["invite", "list", "--unit", "H1"])
    assert listed.exit_code == 0, listed.output
    assert "Đỗ Văn E" in listed.output and "Còn hiệu lực" in listed.output
    assert code not in listed.output
    revoked = runner.invoke(app, ["invite", "revoke", code])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(app, ["invite", "revoke", "1"])
    assert again.exit_code == 1 and "thu hồi" in again.output
    assert "Đã thu hồi" in runner.invoke(app, ["invite", "list"]).output
    (expires,) = asyncio.run(_query(url, select(col(Invite.expires_at))))[0]
    (created,) = asyncio.run(_query(url, select(col(Invite.created_at))))[0]
    assert expires - created == timedelta(days=3)


def test_people_import_bad_rows_exit_1_and_write_nothing(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    path = tmp_path / "people.csv"
    path.write_text(
        "name,phone,role,units\n"
        "Nguyễn Văn An,0912345678,reporter,X1\n"
        ",0912345679,reporter,X2\n"
        'Trần Bình,,supervisor,"X1;ZZ"\n'
        "Lê Cường,,reporter,X1;X2\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["people", "import", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("Dòng ")]
    assert lines == [
        "Dòng 3: thiếu họ tên",
        "Dòng 4: không có đơn vị mã ZZ",
        "Dòng 5: người báo cáo phải thuộc đúng một đơn vị (dòng này có 2)",
    ]
    assert "Có 3 dòng lỗi" in result.output
    assert asyncio.run(_query(url, select(func.count()).select_from(Person)))[0] == (0,)
    assert asyncio.run(_query(url, select(func.count()).select_from(Role)))[0] == (0,)


def test_people_import_xlsx_then_list(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    runner, _ = cli
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Họ tên", "Điện thoại", "Vai trò", "Đơn vị"])
    sheet.append(["Nguyễn Văn An", 912345678, "reporter", "X1"])
    sheet.append([None, None, None, None])
    sheet.append(["Trần Thị Bình", None, "supervisor", "H1, H2"])
    sheet.append(["Ban Tuyên giáo", None, "admin", None])
    path = tmp_path / "people.xlsx"
    book.save(path)
    result = runner.invoke(app, ["people", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 người mới" in result.output and "thêm 4 vai trò" in result.output
    listed = runner.invoke(app, ["people", "list"])
    assert listed.exit_code == 0, listed.output
    assert "0912345678" in listed.output
    assert "toàn bộ cây tổ chức" in listed.output
    under = runner.invoke(app, ["people", "list", "--under", "X1"])
    assert "Nguyễn Văn An" in under.output and "Trần Thị Bình" not in under.output
    assert "Ban Tuyên giáo" not in under.output


def test_an_imported_person_gets_an_invite_that_binds_the_account_to_them(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    path = tmp_path / "people.csv"
    path.write_text("name,role,units\nNguyễn Văn An,reporter,X1\n", encoding="utf-8")
    assert runner.invoke(app, ["people", "import", str(path)]).exit_code == 0
    listed = runner.invoke(app, ["people", "list"])
    [(person_id,)] = asyncio.run(_query(url, select(col(Person.id))))
    assert re.search(rf"│ {person_id}\s+│ Nguyễn Văn An", listed.output), listed.output

    result = runner.invoke(app, ["invite", "create", "--person", str(person_id)])
    assert result.exit_code == 0, result.output
    assert f"Nguyễn Văn An (số {person_id})" in result.output
    match = LINK.search(result.output)
    assert match is not None
    assert "Liên kết tài khoản" in runner.invoke(app, ["invite", "list"]).output

    async def _use(code: str) -> tuple[RedeemStatus, int | None, int]:
        db = Database.from_url(url)
        try:
            async with db.write() as session:
                outcome = await redeem_invite(
                    session=session,
                    code=code,
                    account=ChatAccount(CHANNEL_TELEGRAM, "777"),
                    display_name="An trên Telegram",
                    now=datetime.now(UTC) + timedelta(minutes=1),
                )
                roles = (await session.execute(select(func.count()).select_from(Role))).scalar_one()
                person = outcome.person.id if outcome.person else None
                return outcome.status, person, int(roles)
        finally:
            await db.dispose()

    assert asyncio.run(_use(match.group(1))) == (RedeemStatus.SUCCESS, person_id, 1)
    # Still one person: the chat account joined the imported record, no one new was created.
    assert asyncio.run(_query(url, select(func.count()).select_from(Person)))[0] == (1,)

    # With --role, the code also grants that role; the person must exist; no --name with it.
    more = runner.invoke(
        app,
        ["invite", "create", "--person", str(person_id), "--role", "supervisor", "--unit", "H1"],
    )
    assert more.exit_code == 0, more.output
    assert "vai trò Người theo dõi, H1 Huyện ủy Tiên Du" in more.output
    nobody = runner.invoke(app, ["invite", "create", "--person", "999"])
    assert nobody.exit_code == 1 and "999" in nobody.output
    named = runner.invoke(app, ["invite", "create", "--person", str(person_id), "--name", "Khác"])
    assert named.exit_code == 1
    no_role = runner.invoke(app, ["invite", "create", "--unit", "X1"])
    assert no_role.exit_code == 1 and "--role" in no_role.output
