"""Acceptance (#13): the fictional province of tests/article_province.py, driven only through the
command line (units import, campaign load, reports import, report --as-of 30/9/2016),
reproduces the article's paragraph."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli.main import app
from tests.article_province import write_files


def _run(url: str, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"CADREBOT_DATABASE_URL": url})
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_paper_reports_dated_before_30_9_reproduce_the_article(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cadrebot.db'}"
    files = write_files(tmp_path)
    template = tmp_path / "nq-xii.yaml"
    template.write_text(
        resources.files("storage.templates").joinpath("nq-xii.yaml").read_text("utf-8"), "utf-8"
    )
    _run(url, "init")
    _run(url, "units", "import", str(files["units"]))
    _run(url, "campaign", "load", str(template), "--yes")  # 2016's deadlines are past
    for key in ("hoi_nghi", "chuong_trinh", "ke_hoach"):
        said = _run(
            url,
            "reports",
            "import",
            str(files[key]),
            "--campaign",
            "13-KH/TU",
            "--deliverable",
            key,
        )
        assert "không ghi ngày báo cáo" not in said  # every paper carries its date
    out = _run(url, "report", "--as-of", "30/9/2016")  # no other option: the open campaign
    book = tmp_path / "so-lieu.xlsx"
    _run(url, "export", "--campaign", "13-KH/TU", "--output", str(book), "--as-of", "30/9/2016")
    _assert_summary_never_adds_overlapping_units(book)
    # 550 members, not 570: the cell's 20 are part of its grassroots committee's 150.
    assert out.strip().split("\n\n") == [EXPECTED_FIGURES, EXPECTED_SHORTCOMINGS]


def _assert_summary_never_adds_overlapping_units(book: Path) -> None:
    """Read the workbook back: one row per level, one per reporting group, the total; the cell's
    20 members are part of Đảng bộ xã Hưng Lộc's 150 and are never added to them."""
    listed = [
        row
        for row in load_workbook(book, read_only=True)["Tổng hợp"].iter_rows(values_only=True)
        if row and row[0]
    ]
    assert [row[0] for row in listed][1:6] == [
        "Cấp tỉnh",
        "Cấp huyện",
        "Cấp cơ sở",  # the level is also the group "cấp cơ sở": one row
        "Chi bộ trực thuộc",
        "Cấp tỉnh và cấp huyện",
    ]
    rows = {row[0]: row for row in listed}
    members = 5  # column: Số đảng viên
    assert rows["Chi bộ trực thuộc"][members] == 20  # the level's own row, as it is
    assert rows["Cấp cơ sở"][members] == 300  # the level: its two grassroots committees
    assert rows["Cấp tỉnh và cấp huyện"][members] == 250  # the group
    assert rows["Tổng cộng"][members] == 550  # 40 + 110 + 100 + 150 + 150, not 570
    # Units: every expected unit, the cell and its committee both (1 + 2 + 2 + 1), the sum of
    # the level rows and the digest's count; the members above are counted once.
    assert rows["Tổng cộng"][1] == 6
    levels = ("Cấp tỉnh", "Cấp huyện", "Cấp cơ sở", "Chi bộ trực thuộc")
    assert rows["Tổng cộng"][1] == sum(rows[level][1] for level in levels)
    essays_rate = 9
    assert rows["Cấp tỉnh và cấp huyện"][essays_rate] == 0.948
    assert rows["Tổng cộng"][4] == 550  # attended: 550 people, none twice


EXPECTED_FIGURES = (
    "Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy đến ngày 30/9/2016, 100% các "
    "chi, đảng bộ đã tổ chức học tập, quán triệt Nghị quyết (6/6 đơn vị). Tỷ lệ đảng viên tham "
    "gia học tập, quán triệt đạt 100% "
    "(550/550 đồng chí). Tỷ lệ cán bộ, đảng viên viết bài thu hoạch đạt 94,8% đối với cấp tỉnh "
    "và cấp huyện; 92,7% đối với cấp cơ sở. Qua thống kê, đến ngày 30/9/2016, 100% các chi, đảng "
    "bộ xây dựng chương trình hành động thực hiện Nghị quyết (6/6 đơn vị); trên 90% (91,9%) cấp "
    "ủy, người đứng đầu cơ quan, đơn vị xây dựng kế hoạch hành động (57/62)."
)
# The article's four shortcomings, in its order, each with the article's word because the share
# allows it (storage.shortcoming_text): 1 of the 6 units that reported a session had a weak
# presenter, 1 of 6 a short session, 1 of 6 an essay rate under 90% ("số ít": under a quarter),
# 2 of the 5 that reported action plans are short of some ("một số": under half).
EXPECTED_SHORTCOMINGS = " ".join(
    [
        "Bên cạnh đó vẫn còn một số hạn chế: chất lượng một số báo cáo viên chưa cao (1 đơn vị",
        "có hội nghị được đánh giá chưa đạt hoặc báo cáo viên không thuộc các đối tượng quy",
        "định); một số đơn vị chưa đảm bảo thời gian học tập, quán triệt (1 đơn vị học dưới 2",
        "buổi); số ít cán bộ, đảng viên chưa viết bài thu hoạch (1 đơn vị có tỷ lệ viết bài",
        "dưới 90%); một số đảng bộ chưa tập hợp đầy đủ kế hoạch hành động của cấp ủy, người",
        "đứng đầu cơ quan, đơn vị (2 đơn vị).",
    ]
)
