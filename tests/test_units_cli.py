"""`cadrebot units import|list` end to end on a temporary SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from bot.cli.main import app

TREE = (
    "code,name,level,parent_code,members\n"
    "H1,Huyện ủy Tiên Du,huyen,T1,1.234\n"  # child before its parent
    "T1,Đảng bộ tỉnh Bắc Ninh,tinh,,45.000\n"
    "C1,Đảng bộ xã Phật Tích,co_so,H1,120\n"
    "T2,Đảng bộ tỉnh Hòa Bình,tinh,,30000\n"
)


@pytest.fixture
def cli(tmp_path: Path) -> tuple[CliRunner, dict[str, str]]:
    env = {"CADREBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cadrebot.db'}"}
    runner = CliRunner()
    result = runner.invoke(app, ["init"], env=env)
    assert result.exit_code == 0, result.output
    return runner, env


def _file(tmp_path: Path, text: str, name: str = "units.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_reimport_move_and_list(
    cli: tuple[CliRunner, dict[str, str]], tmp_path: Path
) -> None:
    runner, env = cli
    path = _file(tmp_path, TREE)
    first = runner.invoke(app, ["units", "import", path], env=env)
    assert first.exit_code == 0, first.output
    assert "Đã nhập 4 đơn vị: đã thêm 4, cập nhật 0, chuyển 0, không đổi 0." in first.output

    again = runner.invoke(app, ["units", "import", path], env=env)
    assert again.exit_code == 0
    assert "đã thêm 0, cập nhật 0, chuyển 0, không đổi 4." in again.output

    moved = runner.invoke(
        app,
        [
            "units",
            "import",
            _file(
                tmp_path,
                TREE.replace("H1,Huyện ủy Tiên Du,huyen,T1", "H1,Huyện ủy Tiên Du,huyen,T2"),
                "move.csv",
            ),
        ],
        env=env,
    )
    assert "chuyển 1, không đổi 3." in moved.output

    listing = runner.invoke(app, ["units", "list", "--under", "T2"], env=env)
    assert listing.exit_code == 0, listing.output
    assert "Đảng bộ xã Phật Tích" in listing.output  # came along with H1
    assert "Cấp cơ sở" in listing.output and "1.234" in listing.output
    assert "Bắc Ninh" not in listing.output

    everything = runner.invoke(app, ["units", "list"], env=env)
    assert "Bắc Ninh" in everything.output and "Hòa Bình" in everything.output

    unknown = runner.invoke(app, ["units", "list", "--under", "KHONG"], env=env)
    assert unknown.exit_code == 1
    assert "Không tìm thấy đơn vị KHONG." in unknown.output


def test_a_bad_file_lists_every_line_and_writes_nothing(
    cli: tuple[CliRunner, dict[str, str]], tmp_path: Path
) -> None:
    runner, env = cli
    text = (
        "code,name,level,parent_code,members\n"
        "T1,Đảng bộ tỉnh Bắc Ninh,tinh,,45000\n"
        "H1,Huyện ủy Tiên Du,huyen,T9,100\n"
        "H2,,huyen,T1,100\n"
        "H3,Huyện ủy Quế Võ,huyen,T1,-2\n"
    )
    result = runner.invoke(app, ["units", "import", _file(tmp_path, text)], env=env)
    assert result.exit_code == 1
    assert "chưa ghi gì" in result.output
    assert "Dòng 3: đơn vị H1: không tìm thấy đơn vị cấp trên T9" in result.output
    assert "Dòng 4: đơn vị H2 thiếu tên (cột name)." in result.output
    assert "Dòng 5: đơn vị H3: số đảng viên «-2» không được âm." in result.output
    assert "Dòng 2" not in result.output
    listing = runner.invoke(app, ["units", "list"], env=env)
    assert "Chưa có đơn vị nào" in listing.output


def test_wrong_encoding_and_missing_file(
    cli: tuple[CliRunner, dict[str, str]], tmp_path: Path
) -> None:
    runner, env = cli
    path = tmp_path / "legacy.csv"
    path.write_bytes("code,name,level,parent_code,members\nT1,Hòa Bình,tinh,,1\n".encode("cp1252"))
    result = runner.invoke(app, ["units", "import", str(path)], env=env)
    assert result.exit_code == 1
    assert "UTF-8" in result.output
    missing = runner.invoke(app, ["units", "import", str(tmp_path / "nope.csv")], env=env)
    assert missing.exit_code == 1
    assert "Không tìm thấy tệp" in missing.output


def test_xlsx_import(cli: tuple[CliRunner, dict[str, str]], tmp_path: Path) -> None:
    runner, env = cli
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for line in TREE.strip().splitlines():
        sheet.append(line.split(","))
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    result = runner.invoke(app, ["units", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "đã thêm 4" in result.output
