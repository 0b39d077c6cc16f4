"""`cadrebot campaign template|load|list`, end to end on a temporary SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli.main import app
from storage.campaigns import parse_definition, template_text
from storage.db import Database
from storage.models import Campaign, DeliverableDeadline


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, str]]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"
    runner = CliRunner(env={"CADREBOT_DATABASE_URL": url, "COLUMNS": "200"})
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    yield runner, url


async def _count(url: str, statement: object) -> int:
    db = Database.from_url(url)
    try:
        async with db.read() as session:
            return int((await session.execute(statement)).scalar_one())  # type: ignore[call-overload]
    finally:
        await db.dispose()


def test_template_without_a_start_date_refuses_to_print_2016_deadlines(
    cli: tuple[CliRunner, str],
) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["campaign", "template"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Cần ngày bắt đầu đợt: cadrebot campaign template --start NGÀY" in result.stderr
    assert "2016-06-10" not in result.output


def test_template_started_on_the_plan_s_own_day_is_exactly_the_built_in_file(
    cli: tuple[CliRunner, str],
) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["campaign", "template", "--start", "1/5/2016"])
    assert result.exit_code == 0
    assert result.stdout == template_text()
    assert result.stdout == (
        Path(__file__).parents[1] / "storage" / "templates" / "nq-xii.yaml"
    ).read_text(encoding="utf-8")


def test_load_template_then_reload_then_list(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    runner, url = cli
    path = tmp_path / "nq.yaml"
    path.write_text(
        runner.invoke(app, ["campaign", "template", "--start", "1/5/2016"]).stdout,
        encoding="utf-8",
    )

    first = runner.invoke(app, ["campaign", "load", str(path), "--yes"])
    assert first.exit_code == 0, first.output
    assert "11 hạn báo cáo đã qua (từ 10/6/2016 đến 30/9/2016)" in first.stderr
    assert "Đã tạo đợt 13-KH/TU" in first.stdout
    assert "• Hội nghị học tập, quán triệt Nghị quyết (hoi_nghi): 8 câu hỏi; hạn: " in first.stdout
    assert "Cấp tỉnh 10/6/2016" in first.stdout
    assert "Chi bộ trực thuộc 31/8/2016" in first.stdout

    again = runner.invoke(app, ["campaign", "load", str(path), "--yes"])
    assert again.exit_code == 0, again.output
    assert "Đã cập nhật đợt 13-KH/TU" in again.stdout
    assert asyncio.run(_count(url, select(func.count()).select_from(Campaign))) == 1
    assert (
        asyncio.run(_count(url, select(func.count()).select_from(DeliverableDeadline))) == 4 + 4 + 3
    )

    listed = runner.invoke(app, ["campaign", "list"])
    assert listed.exit_code == 0, listed.output
    for text in ("13-KH/TU", "Đang mở", "1/5/2016", "Số hiệu", "Nội dung báo cáo"):
        assert text in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if "13-KH/TU" in line)
    assert "│ 3" in row


def test_invalid_file_prints_each_error_with_its_line_and_writes_nothing(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    broken = (
        template_text()
        .replace("type: int\n        min: 1", "type: number\n        min: 1")
        .replace("lte: [essays, attended]", "lte: [essays, attendees]")
    )
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    result = runner.invoke(app, ["campaign", "load", str(path)])
    assert result.exit_code == 1
    assert "có 1 lỗi, chưa ghi gì" in result.stderr  # schema errors stop before rule checks
    assert "deliverables[0].fields[1].type: kiểu “number” không hợp lệ" in result.stderr
    assert asyncio.run(_count(url, select(func.count()).select_from(Campaign))) == 0

    only_rule = template_text().replace("lte: [essays, attended]", "lte: [essays, attendees]")
    path.write_text(only_rule, encoding="utf-8")
    result = runner.invoke(app, ["campaign", "load", str(path)])
    assert result.exit_code == 1
    assert "deliverables[0].rules[1].lte[1]" in result.stderr


def test_unknown_level_is_reported_and_nothing_is_written(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    path = tmp_path / "xa.yaml"
    path.write_text(
        template_text().replace("      huyen: 2016-07-15", "      xa: 2016-07-15"), "utf-8"
    )
    result = runner.invoke(app, ["campaign", "load", str(path), "--yes"])
    assert result.exit_code == 1
    assert "deliverables[0].deadlines.xa: không có cấp “xa”" in result.stderr
    assert asyncio.run(_count(url, select(func.count()).select_from(Campaign))) == 0


def test_missing_file_and_empty_list(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["campaign", "load", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "Không đọc được tệp" in result.stderr
    listed = runner.invoke(app, ["campaign", "list"])
    assert listed.exit_code == 0
    assert "Chưa có đợt học tập nào" in listed.stdout


def test_past_deadlines_need_yes_and_nothing_is_written(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    path = tmp_path / "nq.yaml"
    path.write_text(template_text(), encoding="utf-8")  # 2016 deadlines: all past
    result = runner.invoke(app, ["campaign", "load", str(path)])
    assert result.exit_code == 1
    assert "hạn báo cáo đã qua" in result.stderr and "--yes" in result.stderr
    assert asyncio.run(_count(url, select(func.count()).select_from(Campaign))) == 0


def test_template_with_start_shifts_every_date_then_loads_without_warning(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["campaign", "template", "--start", "1/5/2099"])
    assert result.exit_code == 0, result.output
    assert "start_date: 2099-05-01" in result.stdout
    assert "tinh: 2099-06-10" in result.stdout  # 40 days after the start, as in 2016
    assert "2016-" not in result.stdout
    path = tmp_path / "nq.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    loaded = runner.invoke(app, ["campaign", "load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "đã qua" not in loaded.stderr
    bad = runner.invoke(app, ["campaign", "template", "--start", "mai"])
    assert bad.exit_code == 1


def test_close_then_open_a_campaign(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    runner, _ = cli
    path = tmp_path / "nq.yaml"
    path.write_text(template_text(), encoding="utf-8")
    assert runner.invoke(app, ["campaign", "load", str(path), "--yes"]).exit_code == 0
    closed = runner.invoke(app, ["campaign", "close", "13-KH/TU"])
    assert closed.exit_code == 0 and "Đã đóng đợt 13-KH/TU" in closed.stdout
    again = runner.invoke(app, ["campaign", "close", "13-KH/TU"])
    assert "đã đóng; không có gì thay đổi" in again.stdout
    assert "Đã kết thúc" in runner.invoke(app, ["campaign", "list"]).stdout
    opened = runner.invoke(app, ["campaign", "open", "13-KH/TU"])
    assert opened.exit_code == 0 and "Đã mở đợt 13-KH/TU" in opened.stdout
    unknown = runner.invoke(app, ["campaign", "open", "99-KH/TU"])
    assert unknown.exit_code == 1 and "Không tìm thấy đợt học tập" in unknown.stderr


def test_two_level_template_has_no_district_and_its_own_groups(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["campaign", "template", "--two-level", "--start", "1/5/2099"])
    assert result.exit_code == 0, result.output
    assert "huyen:" not in result.stdout and "cấp xã, phường" in result.stdout
    path = tmp_path / "hai-cap.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    loaded = runner.invoke(app, ["campaign", "load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "Cấp huyện" not in loaded.stdout and "Cấp cơ sở 31/8/2099" in loaded.stdout


def test_export_writes_the_stored_campaign_back_as_a_file_load_reads(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, url = cli
    path = tmp_path / "dot.yaml"
    text = template_text().replace(
        "    escalation_up_days: 7", "    escalation_up_days: 7\n    days_off: [2016-09-02]"
    )
    path.write_text(text, encoding="utf-8")
    assert runner.invoke(app, ["campaign", "load", str(path), "--yes"]).exit_code == 0
    exported = runner.invoke(app, ["campaign", "export", "13-KH/TU"])
    assert exported.exit_code == 0, exported.output
    assert "cadrebot campaign load" in exported.stdout and "days_off:\n    - '2016-09-02'" in (
        exported.stdout
    )
    assert parse_definition(exported.stdout).model_dump() == parse_definition(text).model_dump()
    again = tmp_path / "again.yaml"
    again.write_text(exported.stdout, encoding="utf-8")
    assert runner.invoke(app, ["campaign", "load", str(again), "--yes"]).exit_code == 0
    assert asyncio.run(_count(url, select(func.count()).select_from(Campaign))) == 1
    unknown = runner.invoke(app, ["campaign", "export", "99-KH/TU"])
    assert unknown.exit_code == 1 and "99-KH/TU" in unknown.stderr


def _import_units(runner: CliRunner, tmp_path: Path, rows: str) -> None:
    path = tmp_path / "units.csv"
    path.write_text("code,name,level,parent_code,members\n" + rows, encoding="utf-8")
    result = runner.invoke(app, ["units", "import", str(path)])
    assert result.exit_code == 0, result.output


TWO_LEVEL_TREE = (
    "T1,Đảng bộ tỉnh Hòa Bình,tinh,,5000\n"
    "X1,Đảng bộ xã Mường Động,co_so,T1,300\n"
    "C1,Chi bộ thôn Đồng Tâm,chi_bo,X1,30\n"
)


def test_template_without_a_choice_follows_the_unit_tree(
    cli: tuple[CliRunner, str], tmp_path: Path
) -> None:
    runner, _ = cli
    empty = runner.invoke(app, ["campaign", "template", "--start", "1/5/2016"])
    assert empty.stdout == template_text()
    assert "Chưa có đơn vị nào: in mẫu ba cấp" in empty.stderr

    # The 2025 structure: province, communes and wards, their cells; no district unit.
    _import_units(runner, tmp_path, TWO_LEVEL_TREE)
    two = runner.invoke(app, ["campaign", "template", "--start", "1/5/2016"])
    assert two.exit_code == 0, two.output
    assert two.stdout == template_text(two_level=True)
    assert "Cấp tỉnh, Cấp cơ sở, Chi bộ trực thuộc; không đơn vị nào ở cấp huyện" in two.stderr
    assert "--three-level" in two.stderr
    forced = runner.invoke(app, ["campaign", "template", "--three-level", "--start", "1/5/2016"])
    assert forced.stdout == template_text() and forced.stderr == ""

    # A district appears: the article's three-level file.
    _import_units(runner, tmp_path, "H1,Huyện ủy Lạc Sơn,huyen,T1,300\n")
    three = runner.invoke(app, ["campaign", "template", "--start", "1/5/2016"])
    assert three.stdout == template_text()
    assert "mẫu ba cấp" in three.stderr and "--two-level" in three.stderr
