"""The workbook as an office prints and filters it: STT on list sheets, frozen headers,
autofilter, A4 landscape fit to width, percentages as numbers, and one rollup row per district
whose figures are its subtree's, no member counted twice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.export import rate_value, write_xlsx
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.figures import compute_figures
from storage.report_import import import_reports, read_tables
from tests.factories import make_levels, make_unit, pk

NOW = datetime(2016, 10, 1, 3, 0, tzinfo=UTC)
AS_OF = datetime(2016, 9, 30, 10, tzinfo=UTC)
SESSIONS = (
    "Mã đơn vị,session_date,duration_halfdays,members,attended,essays,Ngày báo cáo\n"
    "TU,2/6/2016,2,50,50,48,3/6/2016\n"
    "H1,5/7/2016,2,40,38,36,6/7/2016\n"
    "C11,10/8/2016,2,30,29,25,11/8/2016\n"
    "B1,15/8/2016,2,10,10,9,16/8/2016\n"
    "H2,8/7/2016,2,35,35,35,9/7/2016\n"
)


async def _world(db: Database, tmp_path: Path) -> tuple[int, dict[str, str]]:
    """TU (tinh) > H1 (huyen) > C11 (co_so) > B1 (chi_bo), C12 (co_so); TU > H2 (huyen) > C21."""
    async with db.write() as session:
        await make_levels(session)
        tu = await make_unit(session, "TU", level="tinh", members=50)
        h1 = await make_unit(session, "H1", tu, level="huyen", members=40)
        c11 = await make_unit(session, "C11", h1, level="co_so", members=30)
        await make_unit(session, "C12", h1, level="co_so", members=25)
        await make_unit(session, "B1", c11, level="chi_bo", members=10)
        h2 = await make_unit(session, "H2", tu, level="huyen", members=35)
        await make_unit(session, "C21", h2, level="co_so", members=20)
        campaign = await load_campaign(
            session=session, definition=parse_definition(template_text()), now=NOW
        )
        path = tmp_path / "giay.csv"
        path.write_text(SESSIONS, encoding="utf-8")
        await import_reports(
            session=session,
            campaign_id=pk(campaign),
            tables=read_tables(path),
            now=NOW,
            deliverable="hoi_nghi",
        )
        paths = {"H1": h1.path, "H2": h2.path}
    return pk(campaign), paths


async def _book(db: Database, campaign_id: int, tmp_path: Path) -> Path:
    out = tmp_path / "so-lieu.xlsx"
    async with db.read() as session:
        await write_xlsx(session=session, campaign_id=campaign_id, as_of=AS_OF, output=out)
    return out


def _printed_a4_landscape(ws: Worksheet) -> None:
    assert ws.page_setup.orientation == "landscape", ws.title
    assert int(ws.page_setup.paperSize) == int(Worksheet.PAPERSIZE_A4), ws.title
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
    assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title


async def test_every_sheet_prints_and_every_list_filters(db: Database, tmp_path: Path) -> None:
    campaign_id, _ = await _world(db, tmp_path)
    book = load_workbook(await _book(db, campaign_id, tmp_path))
    assert book.sheetnames == [
        "Tổng hợp",
        "Theo cấp huyện",
        "Đơn vị",
        "Chưa báo cáo",
        "Hạn chế",
        "Lịch sử thay đổi",
    ]
    for ws in book.worksheets:
        _printed_a4_landscape(ws)
    assert book["Tổng hợp"].freeze_panes == "A2"
    assert book["Tổng hợp"].print_title_rows == "$1:$1"
    units = book["Đơn vị"]
    assert units.freeze_panes == "D3" and units.print_title_rows == "$1:$2"
    # Seven units in the campaign's tree, numbered 1..7 under the two header rows.
    assert [units.cell(row, 1).value for row in range(3, 10)] == list(range(1, 8))
    assert units.auto_filter.ref == f"A2:{units.cell(2, units.max_column).column_letter}9"
    missing = book["Chưa báo cáo"]
    listed = list(missing.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in listed] == list(range(1, len(listed) + 1))
    assert "C12" in [row[1] for row in listed]  # nothing reported
    assert missing.auto_filter.ref == f"A1:J{len(listed) + 1}"
    for title in ("Theo cấp huyện", "Chưa báo cáo", "Hạn chế", "Lịch sử thay đổi"):
        ws = book[title]
        assert ws["A1"].value == "STT", title
        assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:"), title
        assert ws.freeze_panes is not None, title
    book.close()


async def test_percentages_are_numbers_formatted_as_percent(db: Database, tmp_path: Path) -> None:
    """0.948 with "0.0%": a Vietnamese Excel shows 94,8% (the decimal sign is the reader's)."""
    campaign_id, _ = await _world(db, tmp_path)
    book = load_workbook(await _book(db, campaign_id, tmp_path))
    summary = book["Tổng hợp"]
    percent_columns = [
        c.column for c in summary[1] if c.value == "%"
    ]  # reported, attendance, essays, programme, plans
    assert len(percent_columns) == 5
    total = next(r for r in summary.iter_rows(min_row=2) if r[0].value == "Tổng cộng")
    essays = total[percent_columns[2] - 1]
    assert isinstance(essays.value, float) and essays.number_format == "0.0%"
    rollup = book["Theo cấp huyện"]
    # STT and code come first; the plans' rate has no heads yet: a dash, as text.
    cells = [rollup.cell(2, c + 2) for c in percent_columns]
    assert [c.number_format for c in cells[:3]] == ["0.0%"] * 3
    assert isinstance(cells[2].value, float) and cells[4].value == "—"
    book.close()


async def test_each_district_row_is_its_subtree_without_double_counting(
    db: Database, tmp_path: Path
) -> None:
    campaign_id, paths = await _world(db, tmp_path)
    book = load_workbook(await _book(db, campaign_id, tmp_path))
    rows = list(book["Theo cấp huyện"].iter_rows(values_only=True))
    book.close()
    assert rows[0][:4] == ("STT", "Mã đơn vị", "Tên đơn vị", "Số đơn vị phải báo cáo")
    by_code = {row[1]: row for row in rows[1:]}
    assert [row[:2] for row in rows[1:]] == [(1, "H1"), (2, "H2")]
    async with db.read() as session:
        for code, path in paths.items():
            group = (
                await compute_figures(
                    session=session, campaign_id=campaign_id, as_of=AS_OF, root_path=path
                )
            ).total
            row = by_code[code]
            s = group.unit_session
            assert row[3:7] == (
                s.expected,
                s.reported,
                rate_value(s.reported_rate.numerator, s.reported_rate.denominator),
                group.attended,
            ), code
            assert row[7:10] == (
                group.members,
                rate_value(group.attendance.numerator, group.attendance.denominator),
                group.essays,
            ), code
    h1 = by_code["H1"]
    # The cell B1 reports inside C11, whose 30 members include its 10: H1's units are H1, C11,
    # C12 and B1 (4 owe, 3 reported: a unit count counts the cell too), members of the reporting
    # units 40 + 30 = 70, not 80.
    assert h1[3:5] == (4, 3)
    assert (h1[6], h1[7]) == (38 + 29, 70)
    assert by_code["H2"][3:5] == (2, 1)
