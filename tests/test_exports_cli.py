"""`cadrebot export` and `cadrebot reports template|import` against a temporary SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from bot.cli.exports import register
from storage.db import Database
from storage.models import Report
from tests.figures_fixtures import reference_tree
from tests.test_report_import import build_world, fill_row


def _database(tmp_path: Path, fill: Callable[[AsyncSession], Awaitable[Any]]) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"

    async def build() -> None:
        from storage.models import metadata

        db = Database.from_url(url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with db.write() as session:
                await fill(session)
        finally:
            await db.dispose()

    asyncio.run(build())
    return url


def _invoke(url: str, *args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, list(args), env={"CADREBOT_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr


def _reports(url: str) -> int:
    async def go() -> int:
        db = Database.from_url(url)
        try:
            async with db.read() as session:
                query = select(func.count()).select_from(Report)
                return int((await session.execute(query)).scalar_one())
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture
def figures_url(tmp_path: Path) -> str:
    return _database(tmp_path, reference_tree)


@pytest.fixture
def template_url(tmp_path: Path) -> str:
    return _database(tmp_path, build_world)


def test_export_xlsx(figures_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bao-cao.xlsx"
    code, stdout, _ = _invoke(
        figures_url,
        "export",
        "--campaign",
        "13-KH/TU",
        "--output",
        str(out),
        "--as-of",
        "15/10/2016",
    )
    assert code == 0, stdout
    assert "Đã xuất 7 đơn vị" in stdout
    assert "Số liệu tính trên tất cả các báo cáo đã gửi (kể cả báo cáo chưa được duyệt)." in stdout
    workbook = load_workbook(out, read_only=True)
    assert workbook.sheetnames == [
        "Tổng hợp",
        "Theo cấp huyện",
        "Đơn vị",
        "Chưa báo cáo",
        "Hạn chế",
        "Lịch sử thay đổi",
    ]
    workbook.close()


def test_export_csv_under_a_unit(figures_url: str, tmp_path: Path) -> None:
    out = tmp_path / "h1.csv"
    code, _, _ = _invoke(
        figures_url,
        "export",
        "--campaign",
        "1",
        "--under",
        "H1",
        "--format",
        "csv",
        "--output",
        str(out),
        "--as-of",
        "2016-10-15",
    )
    assert code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert [line.split(",")[0] for line in data[3:].decode().splitlines()[1:]] == [
        "H1",
        "C11",
        "C12",
        "C13",
    ]


def test_export_approved_only_says_its_basis_in_english(figures_url: str, tmp_path: Path) -> None:
    out = tmp_path / "approved.csv"
    args = ("--campaign", "1", "--format", "csv", "--output", str(out), "--as-of", "15/10/2016")
    code, stdout, _ = _invoke(figures_url, "export", *args, "--approved-only", "--lang", "en")
    assert code == 0, stdout
    assert stdout.splitlines()[-1] == "Figures over approved reports only."


def test_export_refusals(figures_url: str, tmp_path: Path) -> None:
    out = str(tmp_path / "x.xlsx")
    code, _, err = _invoke(figures_url, "export", "--campaign", "99-KH", "--output", out)
    assert code == 1 and "Không tìm thấy đợt học tập “99-KH”." in err
    code, _, err = _invoke(
        figures_url, "export", "--campaign", "1", "--output", out, "--format", "pdf"
    )
    assert code == 1 and "Định dạng “pdf” không được hỗ trợ" in err
    code, _, err = _invoke(
        figures_url, "export", "--campaign", "1", "--output", out, "--under", "ZZ"
    )
    assert code == 1 and "“ZZ”" in err


def test_template_then_import_as_admin(template_url: str, tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    code, stdout, err = _invoke(template_url, "reports", "template", "--output", str(path))
    assert code == 0, err
    assert "“Hội nghị học tập”" in stdout  # one open campaign: no --campaign
    assert "Đợt học tập: 13-KH/TU" in err
    wb = load_workbook(path)
    ws = wb["Hội nghị học tập"]
    fill_row(ws, "C11", reported_on="20/8/2016", session_date="20/8/2016", duration_halfdays=2)
    fill_row(ws, "C11", attended=29, essays=27)
    fill_row(ws, "C12", session_date="20/8/2016", duration_halfdays=2, attended=30, essays=20)
    wb.save(path)  # C12 has 25 members on record: 30 attending is refused
    code, _, err = _invoke(template_url, "reports", "import", str(path), "--as", "1")
    assert code == 1
    assert "Tệp có 1 lỗi, chưa ghi dòng nào:" in err
    assert "(sheet Hội nghị học tập): Số đảng viên dự học tập (30)" in err
    assert _reports(template_url) == 0

    wb = load_workbook(path)
    fill_row(wb["Hội nghị học tập"], "C12", attended=25)
    wb.save(path)
    code, stdout, _ = _invoke(template_url, "reports", "import", str(path), "--as", "1")
    assert code == 0, stdout
    assert "Đã nhập: 2 báo cáo mới, 0 báo cáo cập nhật, 0 không thay đổi." in stdout
    # The other pre-filled units, left as they were, are said and stay unreported.
    assert "dòng chưa điền" in stdout and "vẫn chưa báo cáo" in stdout
    # C12 has no "Ngày báo cáo": said, and counted as of the import day.
    assert "1 báo cáo không ghi ngày báo cáo (cột “Ngày báo cáo”): tính là báo cáo ngày nhập" in (
        stdout
    )
    assert _reports(template_url) == 2


def test_import_refusals(template_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("unit_code,heads,heads_with_plan\nH1,10,8\n", encoding="utf-8")
    code, _, err = _invoke(
        template_url, "reports", "import", str(csv), "--campaign", "13-KH/TU", "--as", "42"
    )
    assert code == 1 and "Không có người dùng số 42." in err
    code, _, err = _invoke(template_url, "reports", "import", str(csv), "--campaign", "13-KH/TU")
    assert code == 1 and "Chưa rõ nội dung báo cáo" in err
    code, stdout, _ = _invoke(
        template_url,
        "reports",
        "import",
        str(csv),
        "--campaign",
        "13-KH/TU",
        "--deliverable",
        "ke_hoach",
    )
    assert code == 0 and "1 báo cáo mới" in stdout


def test_import_without_campaign_takes_the_one_open_campaign_and_says_so(
    template_url: str, tmp_path: Path
) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("unit_code,heads,heads_with_plan\nh1,10,8\n", encoding="utf-8")
    code, stdout, err = _invoke(
        template_url, "reports", "import", str(csv), "--deliverable", "ke_hoach"
    )
    assert code == 0, err
    assert "Đợt học tập: 13-KH/TU" in err and "đợt duy nhất đang mở" in err
    assert "1 báo cáo mới" in stdout  # the code typed in lower case found H1
    assert _reports(template_url) == 1


def test_import_without_campaign_and_two_open_asks_which(tmp_path: Path) -> None:
    async def two_open(session: AsyncSession) -> None:
        from datetime import UTC, date, datetime

        from storage.models import Campaign

        await build_world(session)
        at = datetime(2016, 5, 1, tzinfo=UTC)
        session.add(
            Campaign(
                reference="14-KH/TU",
                name="Đợt khác",
                resolution="NQ",
                start_date=date(2016, 5, 1),
                created_at=at,
                updated_at=at,
            )
        )

    url = _database(tmp_path, two_open)
    csv = tmp_path / "a.csv"
    csv.write_text("unit_code,heads,heads_with_plan\nH1,10,8\n", encoding="utf-8")
    code, _, err = _invoke(url, "reports", "import", str(csv), "--deliverable", "ke_hoach")
    assert code == 1
    assert "đang mở: 13-KH/TU, 14-KH/TU" in err and "--campaign" in err
    assert _reports(url) == 0
