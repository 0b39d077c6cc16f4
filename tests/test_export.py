"""The campaign workbook and CSV, on the reference tree (tests/figures_fixtures.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import update

from bot.export import rate_value, write_csv, write_xlsx
from storage.db import Database
from storage.figures import STATUS_MISSING, compute_figures, unit_rows
from storage.models import ROLE_REPORTER, Person, ReportVersion, Unit
from storage.shortcomings import find_shortcomings
from tests.factories import make_person
from tests.figures_fixtures import Reference, reference_tree, utc

AS_OF = utc(2016, 10, 15)


def wall(*parts: int) -> datetime:
    """A naive wall-clock time, as an Excel cell holds it (no time zone in Excel)."""
    return utc(*parts).replace(tzinfo=None)


SHEETS = ["Tổng hợp", "Theo cấp huyện", "Đơn vị", "Chưa báo cáo", "Hạn chế", "Lịch sử thay đổi"]


async def _build(db: Database) -> Reference:
    async with db.write() as session:
        return await reference_tree(session)


async def _xlsx(
    db: Database, ref: Reference, tmp_path: Path, *, as_of: datetime = AS_OF, **kwargs: Any
) -> Path:
    out = tmp_path / "out.xlsx"
    async with db.read() as session:
        await write_xlsx(
            session=session, campaign_id=ref.campaign_id, as_of=as_of, output=out, **kwargs
        )
    return out


def _rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    workbook = load_workbook(path)
    try:
        return list(workbook[sheet].iter_rows(values_only=True))
    finally:
        workbook.close()


LISTS = {"Theo cấp huyện": 1, "Đơn vị": 2, "Chưa báo cáo": 1, "Hạn chế": 1, "Lịch sử thay đổi": 1}
LISTS_EN = {"Units": 2}


def _listed(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    """A list sheet's rows without its STT column, once the numbering is checked (1, 2, ...)."""
    header_rows = {**LISTS, **LISTS_EN}[sheet]
    rows = _rows(path, sheet)
    assert rows[header_rows - 1][0] in {"STT", "No."}
    assert [row[0] for row in rows[header_rows:]] == list(range(1, len(rows) - header_rows + 1))
    return [row[1:] for row in rows]


async def test_sheets_headers_frozen_rows_and_formats(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    out = await _xlsx(db, ref, tmp_path)
    workbook = load_workbook(out)
    assert workbook.sheetnames == SHEETS
    summary = workbook["Tổng hợp"]
    assert [c.value for c in summary[1]] == [
        "Cấp",
        "Số đơn vị phải báo cáo",
        "Đã báo cáo",
        "%",
        "Đảng viên dự",
        "Tổng số đảng viên",
        "%",
        "Bài thu hoạch",
        "Số dự",
        "%",
        "Có chương trình hành động",
        "%",
        "Người đứng đầu có kế hoạch",
        "Tổng số người đứng đầu",
        "%",
    ]
    assert summary.freeze_panes == "A2"
    assert summary["D2"].number_format == "0.0%"
    assert summary.column_dimensions["A"].width == 26
    units = workbook["Đơn vị"]
    assert units.freeze_panes == "D3"  # STT, code and name stay in view
    assert (units["A2"].value, units["B2"].value) == ("STT", "Mã đơn vị")
    assert units["G1"].value == "Báo cáo hoi_nghi"
    assert units["G2"].value == "Tình trạng"
    assert units["H3"].number_format == "dd/mm/yyyy"  # due date
    assert units["K3"].number_format == "dd/mm/yyyy hh:mm"  # confirmed, local time
    # TU reported at 03:00 UTC = 10:00 in Hà Nội.
    assert units["K3"].value == wall(2016, 6, 5, 10, 0)
    assert workbook["Chưa báo cáo"].freeze_panes == "D2"
    assert workbook["Hạn chế"].freeze_panes == "B2"
    workbook.close()


async def test_summary_equals_compute_figures(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    out = await _xlsx(db, ref, tmp_path)
    async with db.read() as session:
        figures = await compute_figures(session=session, campaign_id=ref.campaign_id, as_of=AS_OF)
    rows = _rows(out, "Tổng hợp")
    by_label = {row[0]: row for row in rows[1:] if row[0]}
    groups = [(lv.label_vi, figures.level(lv.code)) for lv in figures.levels]
    groups.append(("Tổng cộng", figures.total))
    for label, group in groups:
        row = by_label[label]
        assert row[1:3] == (group.unit_session.expected, group.unit_session.reported)
        assert row[4:6] == (group.attended, group.members)
        assert row[7:9] == (group.essays, group.attended)
        assert row[10] == group.units_with_program_all
        assert row[12:14] == (group.heads_with_plan, group.heads)
        for index, rate in (
            (3, group.unit_session.reported_rate),
            (6, group.attendance),
            (9, group.essay),
            (11, group.unit_program),
            (14, group.action_plan),
        ):
            expected = rate_value(rate.numerator, rate.denominator)
            assert row[index] == (expected if expected is not None else "—"), (label, index)
    total = by_label["Tổng cộng"]
    # Hand-checked: 6 of 7 sessions, 177 essays of 189 attending -> 93,7% (rounded half up).
    assert total[1:4] == (7, 6, 0.857)
    assert total[7:10] == (177, 189, 0.937)
    assert by_label["Cấp huyện"][11] == 0.5  # H1 built its action program, H2 did not


async def test_unit_rows_and_missing_sheet(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    async with db.write() as session:  # the calling list: C21's secretary and phone
        c21_unit = await session.get(Unit, ref.builder.id("C21"))
        await make_person(session, "Đỗ Thị Thư", "0203 812 345", roles=[(ROLE_REPORTER, c21_unit)])
    out = await _xlsx(db, ref, tmp_path)
    units = _listed(out, "Đơn vị")[2:]
    # C22 was deactivated on 15/8: not expected in October.
    assert [row[0] for row in units] == ["TU", "H1", "C11", "C12", "C13", "H2", "C21"]
    by_code = {row[0]: row for row in units}
    assert by_code["C21"][3] == "H2"
    assert by_code["H2"][5] == "Trễ hạn"
    assert by_code["H1"][5:10:3] == ("Đúng hạn", 2)  # status, version 2 after the correction
    assert by_code["C21"][5] == "Chưa báo cáo"

    async with db.read() as session:
        owing = [
            unit.code
            async for unit in unit_rows(session=session, campaign_id=ref.campaign_id, as_of=AS_OF)
            if any(d.status == STATUS_MISSING for d in unit.deliverables)
        ]
    missing = _listed(out, "Chưa báo cáo")[1:]
    assert [row[0] for row in missing] == owing == ["C12", "H2", "C21"]
    c21 = missing[2]
    assert c21[2:5] == ("Cấp cơ sở", "H2", "Đảng bộ H2")
    assert c21[5] == "Báo cáo hoi_nghi; Báo cáo ke_hoach"
    assert c21[6] == wall(2016, 8, 31)
    assert c21[7:9] == ("Đỗ Thị Thư", "0203 812 345")
    assert missing[0][7:9] == (None, None)  # C12 has no reporter on file

    before = await _xlsx(db, ref, tmp_path, as_of=utc(2016, 8, 10))
    assert "C22" in [row[0] for row in _listed(before, "Đơn vị")[2:]]
    under = await _xlsx(db, ref, tmp_path, root_path=ref.builder.path("H1"))
    assert [row[0] for row in _listed(under, "Đơn vị")[2:]] == ["H1", "C11", "C12", "C13"]


async def test_shortcomings_sheet_lists_every_unit(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    out = await _xlsx(db, ref, tmp_path)
    async with db.read() as session:
        found = await find_shortcomings(session=session, campaign_id=ref.campaign_id, as_of=AS_OF)
    rows = _listed(out, "Hạn chế")[1:]
    assert len(rows) == sum(len(s.units) for s in found)
    assert ("Thời gian học tập dưới 2 buổi", "C11") in [(r[0], r[1]) for r in rows]
    assert ("Tỷ lệ viết bài thu hoạch dưới 90%", "C11") in [(r[0], r[1]) for r in rows]


async def test_history_shows_a_correction_old_to_new(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    async with db.write() as session:
        person = Person(full_name="Trần Thị Bình", created_at=utc(2016, 5, 1))
        session.add(person)
        await session.flush()
        await session.execute(
            update(ReportVersion)
            .where(
                ReportVersion.report_id == ref.reports[("hoi_nghi", "H1")],  # type: ignore[arg-type]
                ReportVersion.version == 2,  # type: ignore[arg-type]
            )
            .values(created_by_person_id=person.id, channel="telegram")
        )
    out = await _xlsx(db, ref, tmp_path)
    history = _listed(out, "Lịch sử thay đổi")
    assert history[0][:8] == (
        "Thời điểm",
        "Mã đơn vị",
        "Tên đơn vị",
        "Nội dung",
        "Thông tin",
        "Giá trị cũ",
        "Giá trị mới",
        "Người thay đổi",
    )
    assert history[1:] == [
        (
            wall(2016, 9, 1, 17, 0),
            "H1",
            "Đảng bộ H1",
            "Báo cáo hoi_nghi",
            "essays",
            36,
            37,
            "Trần Thị Bình",
            "telegram",
            2,
        )
    ]
    # The person is forgotten: the change stays, attributed to "đã xóa".
    async with db.write() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        stored.forgotten_at = utc(2016, 10, 1)
    again = _listed(await _xlsx(db, ref, tmp_path), "Lịch sử thay đổi")
    assert again[1][7] == "đã xóa"
    # As of before the correction there is no history.
    early = _listed(await _xlsx(db, ref, tmp_path, as_of=utc(2016, 8, 31)), "Lịch sử thay đổi")
    assert early[1:] == []


async def test_english_headers(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    out = await _xlsx(db, ref, tmp_path, lang="en")
    workbook = load_workbook(out, read_only=True)
    assert workbook.sheetnames == [
        "Summary",
        "By district level",
        "Units",
        "Not reported",
        "Shortcomings",
        "Change history",
    ]
    workbook.close()
    assert _listed(out, "Units")[2][5] == "On time"


async def test_csv_is_the_unit_sheet_with_a_bom(db: Database, tmp_path: Path) -> None:
    ref = await _build(db)
    out = tmp_path / "out.csv"
    seen: list[tuple[int, int]] = []
    async with db.read() as session:
        count = await write_csv(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=AS_OF,
            output=out,
            progress_cb=lambda done, total: seen.append((done, total)),
        )
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data[3:].decode("utf-8").splitlines()
    assert count == 7 and len(lines) == 8
    assert lines[0].startswith("Mã đơn vị,Tên đơn vị,Cấp,Mã đơn vị cấp trên,")
    assert "Báo cáo hoi_nghi: Tình trạng" in lines[0]
    assert lines[1].startswith("TU,Đảng bộ TU,Cấp tỉnh,,50,Đúng hạn,30/06/2016,")
    assert seen[-1] == (7, 7)
