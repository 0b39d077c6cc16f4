"""Paper reports imported from XLSX/CSV: same validation as chat, all-or-nothing, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.export import write_xlsx
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.figures import compute_figures
from storage.models import AuditLog, Report, ReportVersion
from storage.report_import import (
    ImportSummary,
    ReportImportError,
    import_reports,
    read_tables,
    write_template,
)
from tests.factories import make_levels, make_person, make_unit, pk

NOW = datetime(2016, 10, 1, 3, 0, tzinfo=UTC)
LATER = datetime(2016, 10, 5, 3, 0, tzinfo=UTC)
HOI_NGHI = [
    "unit_code",
    "session_date",
    "duration_halfdays",
    "members",
    "attended",
    "nonmembers_attended",
    "presenter",
    "essays",
]


@dataclass
class World:
    campaign_id: int
    admin_id: int


async def build_world(session: AsyncSession) -> World:
    """TU (tinh, 50) > H1 (huyen, 40) > C11 (co_so, 30) > B1 (chi_bo, 10); C12 (co_so, 25)
    under H1; KHAC, another province outside the campaign's scope (TU)."""
    await make_levels(session)
    tu = await make_unit(session, "TU", level="tinh", members=50)
    h1 = await make_unit(session, "H1", tu, level="huyen", members=40)
    c11 = await make_unit(session, "C11", h1, level="co_so", members=30)
    await make_unit(session, "C12", h1, level="co_so", members=25)
    await make_unit(session, "B1", c11, level="chi_bo", members=10)
    await make_unit(session, "KHAC", level="tinh", members=70)
    definition = parse_definition(template_text().replace("# scope: TU_BN", "scope: TU"))
    campaign = await load_campaign(session=session, definition=definition, now=NOW)
    admin = await make_person(session, "Lê Văn Quản", roles=[("admin", None)])
    return World(pk(campaign), pk(admin))


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def fill_row(ws: Any, code: str, **values: object) -> None:
    """Write into the template's pre-filled row of unit `code`, by column key (row 1)."""
    columns = {cell.value: cell.column for cell in ws[1]}
    row = next(
        r[0].row for r in ws.iter_rows(min_row=3) if r[columns["unit_code"] - 1].value == code
    )
    for key, value in values.items():
        ws.cell(row, columns[key], value)


async def run_import(
    db: Database, world: World, path: Path, *, now: datetime = NOW, **kwargs: Any
) -> ImportSummary:
    async with db.write() as session:
        return await import_reports(
            session=session,
            campaign_id=world.campaign_id,
            tables=read_tables(path),
            now=now,
            person_id=world.admin_id,
            **kwargs,
        )


async def count(db: Database, model: Any) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def world(db: Database) -> World:
    async with db.write() as session:
        return await build_world(session)


def good_file(tmp_path: Path, *, h1_essays: int = 36) -> Path:
    return workbook(
        tmp_path / "giay.xlsx",
        {
            "hoi_nghi": [
                HOI_NGHI,
                # members left empty: the unit's own (50); "48 đồng chí" as a cadre writes it.
                [
                    "TU",
                    NOW.replace(month=6, day=5, tzinfo=None),
                    2,
                    None,
                    "48 đồng chí",
                    None,
                    "Đ/c Hùng",
                    45,
                ],
                ["H1", "28/7/2016", "2", 40, 38, 0, None, h1_essays],
            ],
            "chuong_trinh": [
                ["unit_code", "action_program", "action_program_date"],
                ["TU", "có", date(2016, 9, 1)],
            ],
        },
    )


async def test_valid_file_creates_reports_versions_and_audit(
    db: Database, world: World, tmp_path: Path
) -> None:
    summary = await run_import(db, world, good_file(tmp_path))
    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0)
    async with db.read() as session:
        versions = (
            (await session.execute(select(ReportVersion).order_by(col(ReportVersion.report_id))))
            .scalars()
            .all()
        )
        audits = (
            (await session.execute(select(AuditLog).where(col(AuditLog.entity) == "report")))
            .scalars()
            .all()
        )
    assert len(versions) == 3
    tu = versions[0]
    assert (tu.members, tu.attended, tu.essays) == (50, 48, 45)
    assert tu.session_date == date(2016, 6, 5)
    assert tu.answers["presenter"] == "Đ/c Hùng"
    assert all(v.version == 1 and v.channel == "cli" for v in versions)
    assert all(v.created_by_person_id == world.admin_id for v in versions)
    assert versions[2].action_program is True
    assert versions[2].action_program_date == date(2016, 9, 1)
    assert len(audits) == 3
    assert all(a.actor_person_id == world.admin_id and a.channel == "cli" for a in audits)
    assert {a.action for a in audits} == {"report.import"}


async def test_reimport_of_a_changed_figure_adds_a_version(
    db: Database, world: World, tmp_path: Path
) -> None:
    await run_import(db, world, good_file(tmp_path))
    summary = await run_import(db, world, good_file(tmp_path, h1_essays=37), now=LATER)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 2)
    assert await count(db, Report) == 3
    async with db.read() as session:
        h1 = (
            (
                await session.execute(
                    select(ReportVersion)
                    .where(col(ReportVersion.essays).is_not(None))
                    .order_by(col(ReportVersion.id))
                )
            )
            .scalars()
            .all()
        )
        update_audit = (
            await session.execute(select(AuditLog).where(col(AuditLog.action) == "report.update"))
        ).scalar_one()
    assert [(v.version, v.essays, v.is_current) for v in h1] == [
        (1, 45, True),
        (1, 36, False),
        (2, 37, True),
    ]
    assert update_audit.old == {"version": 1, "essays": 36}
    assert update_audit.actor_person_id == world.admin_id
    # The workbook's history shows it, field label, old -> new, who.
    out = tmp_path / "export.xlsx"
    async with db.read() as session:
        await write_xlsx(session=session, campaign_id=world.campaign_id, as_of=LATER, output=out)
    history = list(load_workbook(out)["Lịch sử thay đổi"].iter_rows(values_only=True))
    assert [row[2:10] for row in history[1:]] == [  # STT, time, then the change
        (
            "H1",
            "Đơn vị H1",
            "Hội nghị học tập, quán triệt Nghị quyết",
            "Số bài thu hoạch đã nộp",
            "36",
            "37",
            "Lê Văn Quản",
            "cli",
        )
    ]


async def test_bad_rows_write_nothing_and_are_all_listed(
    db: Database, world: World, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path / "sai.xlsx",
        {
            "hoi_nghi": [
                HOI_NGHI,
                ["TU", "5/6/2016", 2, 50, 48, None, None, 45],  # line 2: good
                ["H1", "5/6/2016", 2, 40, "khoảng ba mươi", None, None, 20],  # not a number
                ["C11", "5/6/2016", 2, 25, 30, None, None, 20],  # attended > members
                ["XX9", "5/6/2016", 2, 10, 5, None, None, 5],  # unknown unit
                ["KHAC", "5/6/2016", 2, 70, 60, None, None, 50],  # outside the scope
                ["TU", "6/6/2016", 2, 50, 49, None, None, 45],  # duplicate of line 2
            ]
        },
    )
    with pytest.raises(ReportImportError) as caught:
        await run_import(db, world, path)
    messages = caught.value.messages()
    assert [p.line for p in caught.value.problems] == [3, 4, 5, 6, 7]
    assert messages[0] == (
        "Dòng 3 (sheet hoi_nghi): Đồng chí trả lời “khoảng ba mươi”. Số đảng viên dự học tập"
        " phải là một số nguyên, ví dụ: 25."
    )
    assert messages[1] == (
        "Dòng 4 (sheet hoi_nghi): Số đảng viên dự học tập (30) không được lớn hơn "
        "số đảng viên của đơn vị (25)."
    )
    assert "XX9" in messages[2] and "KHAC" in messages[3]
    assert messages[4] == (
        "Dòng 7 (sheet hoi_nghi): Đơn vị “TU” đã có ở dòng 2: mỗi đơn vị chỉ ghi một dòng."
    )
    assert await count(db, Report) == 0
    assert await count(db, ReportVersion) == 0


async def test_level_without_the_deliverable_and_deliverable_column_in_csv(
    db: Database, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "ke_hoach.csv"
    path.write_text(
        "deliverable,unit_code,heads,heads_with_plan\n"
        "ke_hoach,H1,10,8\n"
        "ke_hoach,B1,3,3\n"  # a subordinate cell has no action-plan report
        "ke_hoach,C11,2,3\n",  # more with a plan than heads
        encoding="utf-8-sig",
    )
    with pytest.raises(ReportImportError) as caught:
        await run_import(db, world, path)
    assert [p.line for p in caught.value.problems] == [3, 4]
    assert caught.value.messages()[0].startswith("Dòng 3: Cấp của tổ chức đảng “B1”")
    path.write_text("deliverable,unit_code,heads,heads_with_plan\nke_hoach,H1,10,8\n")
    summary = await run_import(db, world, path)
    assert summary.created == 1


async def test_vietnamese_labels_as_headers(db: Database, world: World, tmp_path: Path) -> None:
    path = tmp_path / "nhan.csv"
    path.write_text(
        "Mã đơn vị;NGAY TO CHUC HOI NGHI;Thời gian học tập (số buổi);số đảng viên dự học tập;"
        "Số bài thu hoạch đã nộp\n"
        "C12;20/8/2016;2 buổi;25;24\n",
        encoding="utf-8",
    )
    summary = await run_import(db, world, path, deliverable="hoi_nghi")
    assert summary.created == 1
    async with db.read() as session:
        version = (await session.execute(select(ReportVersion))).scalar_one()
    # members was left out: the unit's own 25.
    assert (version.members, version.attended, version.essays) == (25, 25, 24)


async def test_unknown_columns_are_ignored_with_a_note_not_refused(
    db: Database, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "STT,Mã đơn vị,so nguoi du,heads,heads_with_plan,Ghi chú\n1,h1,25,10,8,đã nộp\n2,TU,,,,\n",
        encoding="utf-8",
    )
    summary = await run_import(db, world, path, deliverable="ke_hoach")
    assert (summary.created, summary.updated) == (1, 0)  # "h1": codes in any case
    assert summary.notes == [
        "Bỏ qua cột không dùng: “so nguoi du” (không phải mã hay tên trường nào của nội dung"
        " báo cáo; nếu là một trường, sửa tiêu đề rồi nhập lại).",
        "Bỏ qua 1 dòng chưa điền (chỉ có mã, tên đơn vị, số đảng viên): các đơn vị này vẫn chưa"
        " báo cáo.",
    ]
    assert await count(db, Report) == 1


async def test_header_below_title_rows_on_the_active_sheet(
    db: Database, world: World, tmp_path: Path
) -> None:
    """A workbook as an office types it: title rows above the header, the data on the active
    sheet named "Sheet1", a "Ghi chú" sheet beside it; the row numbers stay the sheet's."""
    path = tmp_path / "giay.xlsx"
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Ghi chú"
    notes.append(["unit_code", "heads"])
    notes.append(["C11", 99])
    data = book.create_sheet("Sheet1")
    data.append(["BÁO CÁO KẾT QUẢ XÂY DỰNG KẾ HOẠCH HÀNH ĐỘNG"])
    data.append([None])
    data.append(
        ["STT", "Mã đơn vị", "Số cấp ủy, người đứng đầu cơ quan, đơn vị", "heads_with_plan"]
    )
    data.append([1, "c11", 3, 9])  # 9 > 3: refused, named by its sheet row
    book.active = 1
    book.save(path)
    with pytest.raises(ReportImportError) as caught:
        await run_import(db, world, path, deliverable="ke_hoach")
    [message] = caught.value.messages()
    assert message.startswith("Dòng 4 (sheet Sheet1):")
    data["D4"] = 3
    book.save(path)
    summary = await run_import(db, world, path, deliverable="ke_hoach")
    assert summary.created == 1
    assert summary.notes == [
        "Bỏ qua sheet “Ghi chú”: tên sheet không phải tên nội dung báo cáo nào."
    ]


async def test_template_round_trip(db: Database, world: World, tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    async with db.read() as session:
        sheets = await write_template(session=session, campaign_id=world.campaign_id, output=path)
    # The campaign's short names (sheet_vi), not its names cut at 31 characters.
    assert sheets == ["Hội nghị học tập", "Chương trình hành động", "Kế hoạch của người đứng đầu"]
    wb = load_workbook(path)
    assert wb.sheetnames == ["Hướng dẫn", *sheets]
    guide = "\n".join(str(c.value) for c in wb["Hướng dẫn"]["B"] if c.value)
    assert "Cấp tỉnh: 10/6/2016" in guide and "Chi bộ trực thuộc: 31/8/2016" in guide
    ws = wb[sheets[0]]
    assert [c.value for c in ws[1]] == [
        "stt",
        "unit_code",
        "unit_name",
        "reported_on",
        *HOI_NGHI[1:-1],
        "presenter_standing",
        "essays",
    ]
    assert [ws["A2"].value, ws["B2"].value, ws["D2"].value, ws["H2"].value] == [
        "STT",
        "Mã đơn vị",
        "Ngày báo cáo",
        "Số đảng viên dự học tập",
    ]
    # The units that owe it, in tree order, with their members on record; not KHAC (outside
    # the campaign's scope).
    listed = [(r[0].value, r[1].value, r[6].value) for r in ws.iter_rows(min_row=3)]
    assert listed == [(1, "TU", 50), (2, "H1", 40), (3, "C11", 30), (4, "B1", 10), (5, "C12", 25)]
    assert ws.freeze_panes == "D3"
    fill_row(ws, "C11", session_date=date(2016, 8, 20), duration_halfdays=2, attended=29)
    fill_row(ws, "C11", essays=27)
    fill_row(ws, "C12", session_date="21/8/2016", duration_halfdays=1, attended=25)
    fill_row(ws, "C12", nonmembers_attended=2, presenter="Đ/c Lan", essays=25)
    fill_row(ws, "C12", presenter_standing="Khác", reported_on="22/8/2016")
    wb.save(path)
    summary = await run_import(db, world, path)
    assert (summary.created, summary.updated) == (2, 0)
    async with db.read() as session:
        rows = (
            await session.execute(
                select(ReportVersion.attended, ReportVersion.members).order_by(  # type: ignore[call-overload]
                    col(ReportVersion.id)
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [(29, 30), (25, 25)]
    # Once C11 and C12 reported, a new template lists only the others.
    async with db.read() as session:
        await write_template(session=session, campaign_id=world.campaign_id, output=path)
    ws = load_workbook(path)[sheets[0]]
    assert [r[1].value for r in ws.iter_rows(min_row=3)] == ["TU", "H1", "B1"]


async def test_a_changed_paper_report_is_dated_by_its_paper(
    db: Database, world: World, tmp_path: Path
) -> None:
    """A re-import that changes a paper report: the new version counts from its own "Ngày báo
    cáo" (as-of figures before the import day see it), on time stays the first paper's."""
    path = tmp_path / "giay.csv"
    header = "Mã đơn vị,session_date,duration_halfdays,members,attended,essays,Ngày báo cáo\n"
    path.write_text(header + "C12,20/8/2016,2,25,25,20,22/8/2016\n", encoding="utf-8")
    await run_import(db, world, path, deliverable="hoi_nghi")
    path.write_text(header + "C12,20/8/2016,2,25,25,24,25/9/2016\n", encoding="utf-8")
    summary = await run_import(db, world, path, deliverable="hoi_nghi", now=LATER)
    assert summary.updated == 1
    async with db.read() as session:
        report = (await session.execute(select(Report))).scalar_one()
        versions = (
            (await session.execute(select(ReportVersion).order_by(col(ReportVersion.version))))
            .scalars()
            .all()
        )
    # Midnight of the paper's day in Asia/Ho_Chi_Minh (UTC+7).
    assert report.first_confirmed_at == datetime(2016, 8, 21, 17, tzinfo=UTC)
    assert [(v.version, v.essays, v.reported_on, v.created_at) for v in versions] == [
        (1, 20, date(2016, 8, 22), datetime(2016, 8, 21, 17, tzinfo=UTC)),
        (2, 24, date(2016, 9, 25), datetime(2016, 9, 24, 17, tzinfo=UTC)),
    ]
    as_of = datetime(2016, 9, 30, 10, tzinfo=UTC)  # before the re-import (LATER)
    async with db.read() as session:
        figures = await compute_figures(session=session, campaign_id=world.campaign_id, as_of=as_of)
    co_so = figures.level("co_so")
    assert (co_so.essays, co_so.unit_session.on_time) == (24, 1)


async def test_a_paper_dated_before_the_version_it_replaces_follows_it(
    db: Database, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "giay.csv"
    header = "Mã đơn vị,session_date,duration_halfdays,members,attended,essays,Ngày báo cáo\n"
    path.write_text(header + "C12,20/8/2016,2,25,25,20,25/8/2016\n", encoding="utf-8")
    await run_import(db, world, path, deliverable="hoi_nghi")
    path.write_text(header + "C12,20/8/2016,2,25,25,24,22/8/2016\n", encoding="utf-8")
    await run_import(db, world, path, deliverable="hoi_nghi", now=LATER)
    async with db.read() as session:
        versions = (
            (await session.execute(select(ReportVersion).order_by(col(ReportVersion.version))))
            .scalars()
            .all()
        )
    # Versions stay in order: the second is never dated before the first.
    assert [v.created_at for v in versions] == [datetime(2016, 8, 24, 17, tzinfo=UTC)] * 2
    assert versions[1].reported_on == date(2016, 8, 22)
