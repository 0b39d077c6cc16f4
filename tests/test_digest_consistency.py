"""A digest agrees with itself (SQLite and PostgreSQL): with a grassroots committee and the cells
under it reporting separately, the scope line counts every distinct expected unit, each
deliverable's on time / late / missing counts equal the late and overdue lists, the group table's
rows (the reporting groups and the cells, "Chi bộ trực thuộc") add up to the headline, and only
the members' rates keep the no-double-counting rule; the dashboard's and /thongke's rows too."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import update

from bot.core.figures_text import digest_text
from bot.export import write_xlsx
from bot.narrative import narrative
from bot.web.figures_view import groups
from scheduler.digest import digest_data
from scheduler.digest_text import render_digest
from storage.db import Database
from storage.figures import Status
from storage.models import ROLE_SUPERVISOR, Campaign
from storage.shortcomings import find_shortcomings
from tests.figures_fixtures import Builder, utc

NOW = utc(2016, 10, 3, 2)  # Monday 3/10/2016 09:00 in Hanoi
GROUPS = [
    {
        "code": "tinh_huyen",
        "label_vi": "cấp tỉnh và cấp huyện",
        "label_en": "province and district levels",
        "levels": ["tinh", "huyen"],
    },
    {"code": "co_so", "label_vi": "cấp cơ sở", "label_en": "grassroots level", "levels": ["co_so"]},
]
ALL_LEVELS = ("tinh", "huyen", "co_so", "chi_bo")
ON_TIME, LATE = utc(2016, 8, 1), utc(2016, 9, 5)  # hội nghị due 31/8
SUPERVISOR = 100


async def _world(db: Database) -> None:
    """TU > H1 > C1 (cells B11, B12) and C2 (cell B21): 7 units, all owing both deliverables.
    Hội nghị: TU, H1, B11 on time; C1, B12, B21 late; C2 never. Chương trình (due 30/9): TU and
    B11 on time, C1 late, the rest missing."""
    async with db.write() as session:
        b = Builder(session)
        await b.levels()
        await b.unit("TU", "tinh", members=50)
        await b.unit("H1", "huyen", "TU", members=40)
        await b.unit("C1", "co_so", "H1", members=30)
        await b.unit("B11", "chi_bo", "C1", members=10)
        await b.unit("B12", "chi_bo", "C1", members=8)
        await b.unit("C2", "co_so", "H1", members=20)
        await b.unit("B21", "chi_bo", "C2", members=5)
        cid = await b.campaign()
        await session.execute(
            update(Campaign)
            .where(Campaign.id == cid)  # type: ignore[arg-type]
            .values(definition={"campaign": {"reporting_groups": GROUPS}})
        )
        await b.deliverable(
            cid, "hoi_nghi", dict.fromkeys(ALL_LEVELS, date(2016, 8, 31)), position=1
        )
        await b.deliverable(
            cid, "chuong_trinh", dict.fromkeys(ALL_LEVELS, date(2016, 9, 30)), position=2
        )
        members = {"TU": 50, "H1": 40, "C1": 30, "B11": 10, "B12": 8, "B21": 5}
        for code, at in (
            ("TU", ON_TIME),
            ("H1", ON_TIME),
            ("B11", ON_TIME),
            ("C1", LATE),
            ("B12", LATE),
            ("B21", LATE),
        ):
            m = members[code]
            await b.report(
                cid, "hoi_nghi", code, at, session_date=at.date(), members=m, attended=m, essays=m
            )
        for code, at in (("TU", ON_TIME), ("B11", ON_TIME), ("C1", utc(2016, 10, 1))):
            await b.report(cid, "chuong_trinh", code, at, action_program=True)
        await b.person(SUPERVISOR, [(ROLE_SUPERVISOR, "TU")])


def _block(text: str, index: int) -> list[str]:
    start = text.index(f"({index}) ")
    return text[start:].split("\n\n", 1)[0].splitlines()


async def test_digest_counts_match_its_lists_and_table(db: Database) -> None:
    await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=SUPERVISOR, now=NOW)
    assert data is not None and len(data.campaigns) == 1
    campaign = data.campaigns[0]
    figures = campaign.figures
    text = render_digest(data)

    # The scope line: the 7 distinct units, the cells and their committees alike.
    assert campaign.expected == 7
    assert "(7 đơn vị phải báo cáo)" in text
    expected = {"hoi_nghi": (6, 7, 3, 3, 1), "chuong_trinh": (3, 7, 2, 1, 4)}
    for index, (key, (reported, of, on_time, late, missing)) in enumerate(expected.items(), 1):
        units = figures.total.units[key]
        assert (units.reported, units.expected, units.on_time, units.late, units.missing) == (
            reported,
            of,
            on_time,
            late,
            missing,
        )
        block = _block(text, index)
        assert block[1].startswith(f"Đã báo cáo: {reported}/{of} đơn vị"), block
        assert block[2] == f"Đúng hạn: {on_time} · Trễ hạn: {late} · Chưa báo cáo: {missing}"
        # Each count is the length of its list: the late units, the overdue ones (both
        # deadlines have passed).
        assert sum(key in u.deliverables for u in campaign.late.units) == late
        assert sum(key in u.deliverables for u in campaign.overdue.units) == missing

    # Units late for some deliverable: C1 (both), B12, B21; the text says as many.
    assert [u.code for u in campaign.late.units] == ["C1", "B12", "B21"]
    assert f"Đơn vị báo cáo trễ hạn: {campaign.late.total}\n" in text
    assert campaign.late.total == 3
    assert [u.code for u in campaign.overdue.units] == ["H1", "B12", "C2", "B21"]
    assert f"Đơn vị chưa báo cáo (đã quá hạn): {campaign.overdue.total}" in text

    # Units with a programme count every unit (3/7); members are never counted twice: the
    # cells' 18 and 5 are part of C1's 30 and C2's (unreported) 20: 50 + 40 + 30 attended.
    assert "(3/7 đơn vị;" in text
    assert "(120/120 đồng chí" in text

    # The group table: the two reporting groups and the cells, adding up to the headline.
    table = text[text.index("Theo nhóm báo cáo") :].split("\n\n", 1)[0].splitlines()[2:]
    rows = {re.split(r"\s{2,}", line)[0]: re.findall(r"(\d+)/(\d+)", line) for line in table}
    assert list(rows) == ["Cấp tỉnh và cấp huyện", "Cấp cơ sở", "Chi bộ trực thuộc"]
    assert rows["Chi bộ trực thuộc"] == [("3", "3"), ("1", "3")]
    for column, (reported, of, *_) in enumerate(expected.values()):
        assert sum(int(cells[column][0]) for cells in rows.values()) == reported
        assert sum(int(cells[column][1]) for cells in rows.values()) == of


async def test_dashboard_and_thongke_rows_add_up_to_the_total(db: Database) -> None:
    await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=SUPERVISOR, now=NOW)
    assert data is not None
    figures = data.campaigns[0].figures
    rows = groups(figures, "vi")
    assert [row.label for row in rows] == [
        "Cấp tỉnh và cấp huyện",
        "Cấp cơ sở",
        "Chi bộ trực thuộc",
        "",  # all levels together
    ]
    *parts, total = rows
    assert [row.figures.unit_session.expected for row in parts] == [2, 2, 3]
    assert total.figures.unit_session == figures.total.units["hoi_nghi"]
    assert sum((row.figures.unit_session for row in parts), Status()) == total.figures.unit_session
    # /thongke's compact figures: the same rows, the same unit counts as the digest.
    brief = digest_text(figures, "vi")
    assert (
        "Chi bộ trực thuộc:\n• Báo cáo hoi_nghi: 3/3 đơn vị đã báo cáo (1 đúng hạn, 2 trễ hạn), "
        "còn thiếu 0\n"
    ) in brief
    assert (
        "Chung các cấp:\n• Báo cáo hoi_nghi: 6/7 đơn vị đã báo cáo (3 đúng hạn, 3 trễ hạn), "
        "còn thiếu 1\n• Báo cáo chuong_trinh: 3/7 đơn vị đã báo cáo (2 đúng hạn, 1 trễ hạn), "
        "còn thiếu 4\n"
    ) in brief


async def test_workbook_and_report_paragraph_count_units_as_the_digest(
    db: Database, tmp_path: Path
) -> None:
    """The workbook's summary sheet: the total row's unit counts are the sums of the level rows
    and the digest's headline; its member counts pool members, none twice. The report paragraph
    counts the units as the digest does."""
    await _world(db)
    out = tmp_path / "so-lieu.xlsx"
    async with db.read() as session:
        data = await digest_data(session=session, person_id=SUPERVISOR, now=NOW)
        assert data is not None
        campaign = data.campaigns[0]
        await write_xlsx(
            session=session, campaign_id=campaign.figures.campaign_id, as_of=NOW, output=out
        )
        shortcomings = await find_shortcomings(
            session=session, campaign_id=campaign.figures.campaign_id, as_of=NOW
        )
    book = load_workbook(out, read_only=True)
    listed = [row for row in book["Tổng hợp"].iter_rows(values_only=True) if row and row[0]]
    book.close()
    rows = {row[0]: row for row in listed}
    levels = ["Cấp tỉnh", "Cấp huyện", "Cấp cơ sở", "Chi bộ trực thuộc"]
    total = rows["Tổng cộng"]
    # Units expected and reported (the study session), units with a programme: 7, 6, 3.
    expected, reported, programs = 1, 2, 10
    assert [rows[level][expected] for level in levels] == [1, 1, 2, 3]
    for column in (expected, reported, programs):
        assert total[column] == sum(rows[level][column] for level in levels), column
    assert (total[expected], total[reported], total[programs]) == (7, 6, 3)
    assert total[expected] == campaign.expected
    assert (total[reported], total[expected]) == (
        campaign.figures.total.units["hoi_nghi"].reported,
        campaign.figures.total.units["hoi_nghi"].expected,
    )
    # The group "cấp tỉnh và cấp huyện" is the sum of its two levels' rows.
    group = rows["Cấp tỉnh và cấp huyện"]
    assert group[expected] == rows["Cấp tỉnh"][expected] + rows["Cấp huyện"][expected]
    # Members: the cells' 18 + 5 attending are part of C1's 30 and C2's, so not added again.
    attended = 4
    assert total[attended] == 120
    assert sum(rows[level][attended] for level in levels) == 143

    # The report paragraph: the digest's unit counts, for the same scope and moment.
    paragraph = narrative(campaign.figures, shortcomings, organisation="Ban Tuyên giáo")
    assert "Nghị quyết (6/7 đơn vị)." in paragraph
    assert "chương trình hành động thực hiện Nghị quyết (3/7 đơn vị)" in paragraph
    assert "(120/120 đồng chí)" in paragraph
