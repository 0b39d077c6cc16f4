"""`cadrebot report` against a SQLite file filled with the article's campaign."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.figures import parse_day, parse_groups, register
from storage.db import Database
from storage.models import metadata
from tests.figures_fixtures import article_campaign


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"

    async def build() -> None:
        db = Database.from_url(url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with db.write() as session:
                await article_campaign(session)
        finally:
            await db.dispose()

    asyncio.run(build())
    return url


def _invoke(url: str, *args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command, so `report` is a sub-command as in cadrebot
        pass

    result = CliRunner().invoke(app, ["report", *args], env={"CADREBOT_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr


def test_report_prints_the_articles_paragraph(url: str) -> None:
    code, out, _ = _invoke(
        url,
        "--campaign",
        "13-KH/TU",
        "--as-of",
        "30/9/2016",
        "--levels",
        "tinh+huyen",
        "--levels",
        "co_so",
    )
    assert code == 0
    assert out.startswith(
        "Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy đến ngày 30/9/2016, "
        "100% các chi, đảng bộ"
    )
    assert "94,8% đối với cấp tỉnh và cấp huyện; 92,7% đối với cấp cơ sở." in out
    assert "Bên cạnh đó vẫn còn một số hạn chế:" in out


def test_report_by_id_under_a_unit_in_english(url: str) -> None:
    code, out, _ = _invoke(
        url, "--campaign", "1", "--under", "TP", "--as-of", "2016-09-30", "--lang", "en"
    )
    assert code == 0
    # TP and its grassroots X1 only: essays 303/320 and 466/500.
    assert "94.7% at district level; 93.2% at grassroots level." in out
    assert "(2/2 units)" in out


def test_as_of_before_the_reports(url: str) -> None:
    code, out, _ = _invoke(url, "--campaign", "13-KH/TU", "--as-of", "1/6/2016")
    assert code == 0
    assert "0% các chi, đảng bộ đã tổ chức học tập, quán triệt Nghị quyết (0/5 đơn vị)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "99-KH/TU"], "Không tìm thấy đợt học tập “99-KH/TU”."),
        (["--campaign", "13-KH/TU", "--under", "XX"], "Không tìm thấy tổ chức đảng có mã “XX”."),
        (["--campaign", "13-KH/TU", "--as-of", "31/9/2016"], "Ngày “31/9/2016” không hợp lệ"),
        (["--campaign", "13-KH/TU", "--levels", "tinh+xa"], "Không có cấp “xa”"),
        (["--campaign", "13-KH/TU", "--lang", "fr"], "Ngôn ngữ “fr” không được hỗ trợ"),
    ],
)
def test_refusals_are_one_vietnamese_line(url: str, args: list[str], message: str) -> None:
    code, out, err = _invoke(url, *args)
    assert code == 1
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_parsers() -> None:
    assert str(parse_day("30/9/2016")) == "2016-09-30"
    assert str(parse_day("30-9-2016")) == "2016-09-30"
    assert str(parse_day("2016-09-30")) == "2016-09-30"
    assert parse_day("30/9") is None
    assert parse_day("hôm qua") is None
    assert parse_groups(["tinh+huyen", "co_so"]) == [("tinh", "huyen"), ("co_so",)]
