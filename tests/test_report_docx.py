"""`cadrebot report --format docx`: the Party document (header block, date, title, the text
report's own paragraphs, signature block), read back with python-docx."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from docx.oxml.ns import qn
from typer.testing import CliRunner

from bot.cli.main import app
from storage.i18n.formatting import document_date
from tests.test_cli_figures import url

__all__ = ["url"]

ORGANISATION = {
    "CADREBOT_ORGANISATION_NAME": "Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam",
    "CADREBOT_ORGANISATION_PARENT": "Tỉnh ủy Sông Lam",
    "CADREBOT_ORGANISATION_PLACE": "Sông Lam",
}


def _report(url: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(
        app, ["report", *args], env={"CADREBOT_DATABASE_URL": url, **(env or {})}
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def _cells(table) -> list[list[str]]:
    return [[p.text for p in cell.paragraphs] for cell in table.rows[0].cells]


def _run(table, column: int, line: int):
    [run] = table.rows[0].cells[column].paragraphs[line].runs
    return run


def test_the_document_has_the_party_header_and_the_text_reports_paragraphs(
    url: str, tmp_path: Path
) -> None:
    as_of = ("--campaign", "13-KH/TU", "--as-of", "30/9/2016")
    text = _report(url, *as_of, env=ORGANISATION)
    out = tmp_path / "bao-cao.docx"
    said = _report(
        url, *as_of, "--format", "docx", "--output", str(out), "--number", "125", env=ORGANISATION
    )
    assert said.strip() == f"Đã ghi báo cáo vào tệp {out}."

    doc = Document(str(out))
    header, signature = doc.tables
    left, right = _cells(header)
    assert left == ["TỈNH ỦY SÔNG LAM", "BAN TUYÊN GIÁO VÀ DÂN VẬN", "*", "Số 125-BC/BTGDVTU"]
    assert right[0] == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert right[-1] == "Sông Lam, ngày 30 tháng 9 năm 2016"
    assert _run(header, 1, 0).underline and _run(header, 1, 0).bold
    assert _run(header, 1, len(right) - 1).italic
    assert _run(header, 0, 1).bold
    # Borderless: every edge of both tables is "nil".
    for table in (header, signature):
        borders = table._tbl.tblPr.find(qn("w:tblBorders"))
        assert borders is not None and len(borders) == 6
        assert {edge.get(qn("w:val")) for edge in borders} == {"nil"}

    body = [p.text for p in doc.paragraphs if p.text]
    assert body[:3] == [
        "BÁO CÁO",
        "Kết quả học tập, quán triệt Nghị quyết Đại hội XII của Đảng",
        "-----",
    ]
    # The paragraphs are the text report's, word for word, and the setting's name is in them.
    assert body[3:] == text.strip().split("\n\n")
    assert body[3].startswith(
        "Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam đến ngày 30/9/2016"
    )
    recipients, signer = _cells(signature)
    assert recipients == ["Nơi nhận:", "- Thường trực Tỉnh ủy Sông Lam (để báo cáo),", "- Lưu."]
    assert signer == ["T/M BAN TUYÊN GIÁO VÀ DÂN VẬN"]


def test_without_options_the_number_is_blank_and_the_date_is_today_there(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said = _report(url, "--format", "docx")
    # Today in the campaign's timezone (read after the run: a run across midnight still passes).
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    written = tmp_path / f"bao-cao-{today.isoformat()}.docx"
    assert said.strip() == f"Đã ghi báo cáo vào tệp {written.name}."
    left, right = _cells(Document(str(written)).tables[0])
    assert left[0] == "TỈNH ỦY"  # the catalog's default organisation
    assert left[1] == "BAN TUYÊN GIÁO VÀ DÂN VẬN"
    assert left[3] == "Số \u00a0\u00a0\u00a0\u00a0\u00a0\u00a0-BC/BTGDVTU"  # room to write it
    assert right[-1] == document_date(today, "……")


def test_the_text_report_stays_the_default_and_can_go_to_a_file(url: str, tmp_path: Path) -> None:
    printed = _report(url, "--as-of", "30/9/2016")
    assert printed.startswith(
        "Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy đến ngày 30/9/2016"
    )
    out = tmp_path / "bao-cao.txt"
    _report(url, "--as-of", "30/9/2016", "--output", str(out))
    assert out.read_text("utf-8") == printed


def test_a_bad_format_number_or_unwritable_file_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a document would be written without --output
    result = CliRunner().invoke(
        app, ["report", "--format", "pdf"], env={"CADREBOT_DATABASE_URL": url}
    )
    assert result.exit_code == 1
    assert "Định dạng “pdf” không được hỗ trợ: chọn text, docx." in result.stderr
    for number in ("125-BC/BTGDVTU", "12 5", "１２５", "1234567"):
        result = CliRunner().invoke(
            app,
            ["report", "--format", "docx", "--number", number],
            env={"CADREBOT_DATABASE_URL": url},
        )
        assert result.exit_code == 1
        assert f"Số văn bản “{number}” không hợp lệ: chỉ ghi phần số" in result.stderr
    assert not list(tmp_path.glob("*.docx"))
    missing = tmp_path / "no-such-folder" / "bao-cao.docx"
    result = CliRunner().invoke(
        app,
        ["report", "--format", "docx", "--output", str(missing)],
        env={"CADREBOT_DATABASE_URL": url},
    )
    assert result.exit_code == 1
    said = "".join(result.stderr.split())  # the console wraps long lines
    assert said == "".join(
        f"Không ghi được tệp {missing}: thư mục không có hoặc không được phép ghi.".split()
    )
    assert not missing.exists()


def test_the_date_line_as_party_documents_write_it() -> None:
    assert document_date(date(2016, 9, 30), "Sông Lam") == "Sông Lam, ngày 30 tháng 9 năm 2016"
    # A day below 10 and the months 1 and 2 take a leading zero.
    assert document_date(date(2017, 2, 3), "Sông Lam") == "Sông Lam, ngày 03 tháng 02 năm 2017"
    assert document_date(date(2016, 10, 5), "Sông Lam") == "Sông Lam, ngày 05 tháng 10 năm 2016"
