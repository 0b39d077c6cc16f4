"""The printable invite sheet and the QR codes: `cadrebot invite create --all-units --output
ma-moi.xlsx` after `people import`. Each row is bound to the unit's imported person (joining
creates nobody new and greets them by the imported name), each QR image decodes back to the
row's own link, the page is set up for A4, and people who already joined get no new code."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli.main import app
from bot.invite_sheet import qr_png
from storage.db import Database
from storage.invites import RedeemOutcome, redeem_invite
from storage.models import CHANNEL_TELEGRAM, CHANNEL_ZALO, Person
from storage.people import ChatAccount, bind_identity, find_person_by_phone
from tests.factories import make_unit

BOT = "cadre_test_bot"
CODE = re.compile(r"[2-9BCFGHJKMNPQRSTVXZ]{5}-[2-9BCFGHJKMNPQRSTVXZ]{5}")


def decode(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_qr_png_decodes_back_to_the_deep_link() -> None:
    link = f"https://t.me/{BOT}?start=K7Q4M-2XP9T"
    png = qr_png(link)
    assert png.startswith(b"\x89PNG")
    assert decode(png) == [link]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, str]]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"
    runner = CliRunner(env={"CADREBOT_DATABASE_URL": url, "CADREBOT_BOT_USERNAME": BOT})
    assert runner.invoke(app, ["init"]).exit_code == 0
    asyncio.run(_seed(url))
    people = tmp_path / "people.csv"
    people.write_text(
        "name,phone,role,units\n"
        "Lê Văn Hải,0912000001,reporter,X1\n"
        "Nguyễn Thị Hoa,0912000002,reporter,X2\n"
        "=HYPERLINK(1),0912000004,reporter,X2\n"
        "Trần Văn Đã,0912000003,reporter,X4\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["people", "import", str(people)])
    assert result.exit_code == 0, result.output
    yield runner, url


async def _seed(url: str) -> None:
    db = Database.from_url(url)
    try:
        async with db.write() as session:
            t = await make_unit(session, "T", level="tinh", name="Tỉnh ủy Bắc Ninh")
            h1 = await make_unit(session, "H1", parent=t, level="huyen", name="Huyện ủy Tiên Du")
            await make_unit(session, "X1", parent=h1, name="Đảng ủy xã Phú Lâm")
            await make_unit(session, "X2", parent=h1, name="Đảng ủy xã Nội Duệ")
            await make_unit(session, "X3", parent=h1, name="Đảng ủy xã Lạc Vệ")
            await make_unit(session, "X4", parent=h1, name="Đảng ủy xã Hiên Vân")
    finally:
        await db.dispose()


async def _in_db(url: str, work: Any) -> Any:
    db = Database.from_url(url)
    try:
        async with db.write() as session:
            return await work(session)
    finally:
        await db.dispose()


def test_printable_sheet_binds_each_invite_to_the_imported_person(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    now = datetime.now(UTC)

    async def joined_already(session: Any) -> None:  # Trần Văn Đã uses Zalo already
        person = await find_person_by_phone(session=session, phone="0912000003")
        assert person is not None and person.id is not None
        await bind_identity(
            session=session, person_id=person.id, account=ChatAccount(CHANNEL_ZALO, "z1"), now=now
        )

    asyncio.run(_in_db(url, joined_already))
    out = tmp_path / "ma-moi.xlsx"
    result = runner.invoke(
        app,
        [
            *("invite", "create", "--role", "reporter", "--all-units"),
            *("--level", "co_so", "--output", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 đồng chí đã tham gia từ trước" in result.output
    assert not list(tmp_path.glob("*.partial"))

    book = load_workbook(out)
    sheet = book.active
    assert sheet is not None
    assert str(sheet["A1"].value).startswith("Mã mời tham gia trợ lý")
    header = [cell.value for cell in sheet[2]]
    assert header == [
        "STT",
        "Mã đơn vị",
        "Tên đơn vị",
        "Họ tên đồng chí được mời",
        "Mã mời",
        "Đường link (Telegram)",
        "Hướng dẫn trên Zalo",
        "Mã QR (Telegram)",
    ]
    rows = [[cell.value for cell in row[:7]] for row in sheet.iter_rows(min_row=3)]
    # X4's only reporter has joined: no row. X2 has two people: one row each. X3: nobody.
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (1, "X1", "Lê Văn Hải"),
        (2, "X2", "=HYPERLINK(1)"),
        (3, "X2", "Nguyễn Thị Hoa"),
        (4, "X3", "(chưa có trong danh sách)"),
    ]
    assert sheet["D4"].data_type == "s"  # a name starting with "=" stays text
    for row in rows:
        assert CODE.fullmatch(str(row[4]))
        assert row[5] == f"https://t.me/{BOT}?start={row[4]}"
        assert row[6] == f"Trên Zalo: nhắn mã {row[4]} cho trợ lý (tin nhắn chỉ cần có mã)."

    # One QR image per row, in that row, decoding to that row's link.
    images = {image.anchor._from.row + 1: image for image in sheet._images}
    assert sorted(images) == [3, 4, 5, 6]
    for line, row in enumerate(rows, start=3):
        assert decode(images[line]._data()) == [row[5]]

    # A4, landscape, one page wide, header repeated on every page.
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == "$2:$2"

    # Joining with X1's code binds the account to the imported Lê Văn Hải: nobody new, and
    # the greeting's name is the imported one, not Telegram's "Hải Lê Văn".
    async def join(session: Any) -> tuple[RedeemOutcome, int]:
        outcome = await redeem_invite(
            session=session,
            code=f"mã của em là {str(rows[0][4]).lower()}",
            account=ChatAccount(CHANNEL_TELEGRAM, "777"),
            display_name="Hải Lê Văn",
            now=now + timedelta(minutes=1),
        )
        people = (await session.execute(select(func.count()).select_from(Person))).scalar_one()
        return outcome, people

    outcome, people = asyncio.run(_in_db(url, join))
    assert outcome.ok and outcome.person is not None
    assert outcome.person.full_name == "Lê Văn Hải"
    assert outcome.person.phone == "0912000001"
    assert people == 4  # the four imported people, no fifth


def test_single_invite_writes_its_qr_png_and_the_zalo_line(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, _ = cli
    png = tmp_path / "qr.png"
    result = runner.invoke(
        app, ["invite", "create", "--role", "reporter", "--unit", "X3", "--qr", str(png)]
    )
    assert result.exit_code == 0, result.output
    [code] = CODE.findall(result.output.split("Liên kết")[0])
    assert f"Trên Zalo: nhắn mã {code} cho trợ lý" in result.output
    assert decode(png.read_bytes()) == [f"https://t.me/{BOT}?start={code}"]


def test_bulk_output_must_be_xlsx_or_csv(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    runner, url = cli
    result = runner.invoke(
        app,
        ["invite", "create", "--role", "reporter", "--all-units", "--output", "ma-moi.pdf"],
    )
    assert result.exit_code == 1
    assert "phải là .xlsx" in result.output

    async def invites(session: Any) -> int:
        from storage.models import Invite

        return int(
            (await session.execute(select(func.count(col(Invite.id))))).scalar_one()  # type: ignore[arg-type]
        )

    assert asyncio.run(_in_db(url, invites)) == 0


def test_csv_of_links_names_the_imported_people_and_neutralises_formulas(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, _ = cli
    out = tmp_path / "ma-moi.csv"
    result = runner.invoke(
        app,
        ["invite", "create", "--role", "reporter", "--all-units", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    names = {row[0]: [r[4] for r in rows if r[0] == row[0]] for row in rows}
    assert names["X1"] == ["Lê Văn Hải"]
    assert sorted(names["X2"]) == ["'=HYPERLINK(1)", "Nguyễn Thị Hoa"]
    assert names["X3"] == [""]
    levels = {row[0]: row[2] for row in rows}
    assert (levels["T"], levels["H1"], levels["X3"]) == ("Cấp tỉnh", "Cấp huyện", "Cấp cơ sở")
    assert {row[3] for row in rows} == {"Người báo cáo"}
