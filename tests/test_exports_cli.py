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
from tests.test_report_import import build_world


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
    code, stdout, _ = _invoke(
        template_url, "reports", "template", "--campaign", "13-KH/TU", "--output", str(path)
    )
    assert code == 0 and "hoi_nghi" in stdout
    wb = load_workbook(path)
    wb["hoi_nghi"].append(["C11", None, "20/8/2016", 2, 30, 29, None, None, None, 27])
    wb["hoi_nghi"].append(["C12", None, "20/8/2016", 2, 25, 30, None, None, None, 20])  # 30 > 25
    wb.save(path)
    code, _, err = _invoke(
        template_url, "reports", "import", str(path), "--campaign", "13-KH/TU", "--as", "1"
    )
    assert code == 1
    assert "Tệp có 1 lỗi, chưa ghi dòng nào:" in err
    assert "Dòng 4 (sheet hoi_nghi): Số đảng viên dự học tập (30)" in err
    assert _reports(template_url) == 0

    wb = load_workbook(path)
    wb["hoi_nghi"]["F4"] = 25
    wb.save(path)
    code, stdout, _ = _invoke(
        template_url, "reports", "import", str(path), "--campaign", "13-KH/TU", "--as", "1"
    )
    assert code == 0, stdout
    assert "Đã nhập: 2 báo cáo mới, 0 báo cáo cập nhật, 0 không thay đổi." in stdout
    # No "Ngày báo cáo" column: said, and counted as of the import day.
    assert "2 báo cáo không ghi ngày báo cáo (cột “Ngày báo cáo”): tính là báo cáo ngày nhập" in (
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
