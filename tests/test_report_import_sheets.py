"""The paper-report template's sheet titles read as names within Excel's 31 characters (the
campaign's short names, else the name cut before a linking word), are unique and valid, and the
import finds each deliverable's sheet by that same title (template -> fill -> import)."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlmodel import col

from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.models import Deliverable, Report
from storage.report_import import write_template
from storage.report_import.sheet_names import readable_cut, sheet_titles
from tests.test_report_import import NOW, World, build_world, fill_row, run_import

EXCEL_BAD = set("\\/*?:[]")


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Chương trình hành động thực hiện Nghị quyết", "Chương trình hành động"),
        ("Kế hoạch hành động của người đứng đầu", "Kế hoạch hành động"),
        ("Hội nghị học tập, quán triệt Nghị quyết", "Hội nghị học tập"),
        ("Action plans of heads of agencies", "Action plans of heads"),
        ("Sơ kết: việc học tập [quý III/2016] ở chi bộ", "Sơ kết việc học tập quý III"),
        ("Báo cáo tổng hợp kết quả học tập quán triệt", "Báo cáo tổng hợp kết quả học"),
        ("Chuongtrinhhanhdongthuchiennghiquyet", "Chuongtrinhhanhdongthuchiennghi"),
        ("'Trích dẫn'", "Trích dẫn"),
        ("Ngắn", "Ngắn"),
    ],
)
def test_a_long_name_is_cut_where_it_still_reads_as_a_name(name: str, title: str) -> None:
    assert readable_cut(name) == title
    assert len(title) <= 31 and not EXCEL_BAD & set(title)


def test_titles_are_unique_ignoring_case_and_never_the_instructions_sheet() -> None:
    titles = sheet_titles(
        [
            ("a", "Kế hoạch hành động của người đứng đầu", None),
            ("b", "Kế hoạch hành động của các chi bộ trực thuộc", None),
            ("c", "x", "kế hoạch hành động"),
            ("d", "Hướng dẫn", None),
            ("e", "Một tên rất dài không có từ nối nào cả ở đây", None),
            ("f", "Một tên rất dài không có từ nối nào cả ở kia", None),
        ],
        reserved=["Hướng dẫn"],
    )
    assert titles == {
        "a": "Kế hoạch hành động",
        "b": "Kế hoạch hành động (2)",
        "c": "kế hoạch hành động (3)",
        "d": "Hướng dẫn (2)",
        "e": "Một tên rất dài không có từ nối",
        "f": "Một tên rất dài không có từ (2)",
    }
    assert all(len(title) <= 31 for title in titles.values())


async def _world_without_short_names(db: Database) -> World:
    """The built-in campaign with its sheet_vi / sheet_en lines taken out."""
    text = "\n".join(
        line
        for line in template_text().replace("# scope: TU_BN", "scope: TU").splitlines()
        if not line.strip().startswith(("sheet_vi:", "sheet_en:"))
    )
    async with db.write() as session:
        world = await build_world(session)
        await load_campaign(session=session, definition=parse_definition(text), now=NOW)
    return world


@pytest.mark.parametrize(
    ("short_names", "lang", "expected"),
    [
        (True, "vi", ["Hội nghị học tập", "Chương trình hành động", "Kế hoạch của người đứng đầu"]),
        (True, "en", ["Study session", "Action program", "Heads' action plans"]),
        (False, "vi", ["Hội nghị học tập", "Chương trình hành động", "Kế hoạch hành động"]),
    ],
)
async def test_template_fill_import_finds_every_sheet_by_its_title(
    db: Database, tmp_path: Path, short_names: bool, lang: str, expected: list[str]
) -> None:
    if short_names:
        async with db.write() as session:
            world = await build_world(session)
    else:
        world = await _world_without_short_names(db)
    path = tmp_path / "mau.xlsx"
    async with db.read() as session:
        sheets = await write_template(
            session=session, campaign_id=world.campaign_id, output=path, lang=lang
        )
    assert sheets == expected
    book = load_workbook(path)
    assert book.sheetnames[1:] == expected
    fill_row(book[sheets[0]], "C11", session_date="20/8/2016", duration_halfdays=2)
    fill_row(book[sheets[0]], "C11", attended=29, essays=27)
    fill_row(book[sheets[1]], "C11", action_program="có", action_program_date="1/9/2016")
    fill_row(book[sheets[2]], "C11", heads=4, heads_with_plan=4)
    book.save(path)
    summary = await run_import(db, world, path)
    assert summary.created == 3
    assert not [note for note in summary.notes if "Bỏ qua sheet" in note]
    async with db.read() as session:
        keys = (
            await session.execute(
                select(col(Deliverable.key))
                .join(Report, col(Report.deliverable_id) == col(Deliverable.id))
                .order_by(col(Deliverable.position))
            )
        ).scalars()
        assert list(keys) == ["hoi_nghi", "chuong_trinh", "ke_hoach"]


async def test_a_template_written_before_short_titles_still_imports(
    db: Database, tmp_path: Path
) -> None:
    """Templates in circulation were titled with the name cut at 31 characters."""
    async with db.write() as session:
        world = await build_world(session)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Chương trình hành động thực"
    sheet.append(["unit_code", "action_program", "action_program_date"])
    sheet.append(["C11", "có", "1/9/2016"])
    path = tmp_path / "cu.xlsx"
    book.save(path)
    summary = await run_import(db, world, path)
    assert summary.created == 1
