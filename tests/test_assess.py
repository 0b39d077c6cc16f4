"""/danhgia CODE 1|2: a supervisor's assessment of a unit's study session, audited, only in
scope, and "chưa đạt" becomes the presenter-quality shortcoming; the presenter's name and
standing and the assessment are shown in /donvi and the workbook (#13.4)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from bot.core.unit_view import unit_view_text
from bot.export import write_xlsx
from storage.i18n import t
from storage.models import CHANNEL_CLI, AuditLog, Report, Unit
from storage.reports import save_report
from storage.shortcomings import PRESENTER_QUALITY, find_shortcomings
from tests.report_fixtures import NOW
from tests.test_telegram_supervision import REPORTER, SUPERVISOR, Setup, setup

__all__ = ["setup"]


async def _session_report(s: Setup, standing: str) -> None:
    async with s.db.write() as session:
        await save_report(
            session=session,
            unit_id=s.world.unit_id,
            deliverable_id=s.world.deliverables["hoi_nghi"],
            answers={
                "session_date": date(2016, 8, 20),
                "duration_halfdays": 2,
                "members": 30,
                "attended": 28,
                "presenter": '=HYPERLINK("http://evil.example","Đ/c Hùng")',
                "presenter_standing": standing,
                "essays": 27,
            },
            person_id=s.world.reporter_id,
            channel=CHANNEL_CLI,
            now=NOW,
        )


async def _presenter_units(s: Setup) -> list[str]:
    async with s.db.read() as session:
        found = await find_shortcomings(session=session, campaign_id=s.world.campaign_id, as_of=NOW)
    return [u.code for f in found if f.kind == PRESENTER_QUALITY for u in f.units]


async def test_assessment_not_passed_is_a_presenter_shortcoming(setup: Setup) -> None:
    await _session_report(setup, "bao_cao_vien")
    assert await _presenter_units(setup) == []

    failed = await setup.harness.send("/danhgia CS1 2", SUPERVISOR)
    assert failed.texts() == [
        "Đã ghi nhận: hội nghị học tập, quán triệt của Đảng bộ xã Đông (mã CS1) chưa đạt yêu cầu."
    ]
    assert await _presenter_units(setup) == ["CS1"]
    async with setup.db.read() as session:
        report = (await session.execute(select(Report))).scalars().one()
        audit = (
            (
                await session.execute(select(AuditLog).where(AuditLog.action == "report.assess"))  # type: ignore[arg-type]
            )
            .scalars()
            .one()
        )
    assert report.assessment == "chua_dat" and report.assessed_by_person_id is not None
    assert audit.new == {"assessment": "chua_dat"}

    passed = await setup.harness.send("/danhgia CS1 đạt yêu cầu", SUPERVISOR)
    assert "đạt yêu cầu" in passed.text() and "chưa đạt" not in passed.text()
    assert await _presenter_units(setup) == []


async def test_other_presenter_standing_is_a_presenter_shortcoming(setup: Setup) -> None:
    await _session_report(setup, "khac")
    assert await _presenter_units(setup) == ["CS1"]


async def test_assessment_only_in_scope_and_only_of_a_reported_session(setup: Setup) -> None:
    outside = await setup.harness.send("/danhgia CS3 1", SUPERVISOR)
    assert "Không tìm thấy đơn vị «CS3»" in outside.text()
    by_reporter = await setup.harness.send("/danhgia CS1 1", REPORTER)
    assert "dành cho đồng chí được phân công theo dõi" in by_reporter.text()
    not_yet = await setup.harness.send("/danhgia CS1 1", SUPERVISOR)
    assert "chưa báo cáo hội nghị học tập, quán triệt nên chưa thể đánh giá" in not_yet.text()
    for text in ("/danhgia CS1", "/danhgia CS1 5"):
        usage = await setup.harness.send(text, SUPERVISOR)
        assert "1. Đạt yêu cầu; 2. Chưa đạt" in usage.text()
    async with setup.db.read() as session:
        assert (await session.execute(select(Report))).first() is None


def _units_sheet_cells(path: Path, code: str, labels: tuple[str, ...]) -> list[object]:
    """The unit's row on the workbook's units sheet, read back under the given column titles."""
    workbook = load_workbook(path, read_only=True)
    try:
        rows = list(workbook[t("export.sheet.units", "vi")].iter_rows(values_only=True))
    finally:
        workbook.close()
    titles = rows[1]
    [row] = [r for r in rows[2:] if r[titles.index(t("export.units.code", "vi"))] == code]
    return [row[titles.index(label)] for label in labels]


def _units_sheet_titles(path: Path) -> list[object]:
    workbook = load_workbook(path, read_only=True)
    try:
        return list(
            next(
                workbook[t("export.sheet.units", "vi")].iter_rows(
                    min_row=2, max_row=2, values_only=True
                )
            )
        )
    finally:
        workbook.close()


async def test_presenter_and_assessment_in_the_unit_view_and_the_workbook(
    setup: Setup, tmp_path: Path
) -> None:
    """#13.4: the presenter's name and standing and the session's assessment are in /donvi and
    in the export, as recorded (the name, kept as text, and the standing) and as decided (the
    assessment); a unit with no session has empty cells."""
    await _session_report(setup, "bao_cao_vien")
    await setup.harness.send("/danhgia CS1 2", SUPERVISOR)
    view = (await setup.harness.send("/donvi CS1", SUPERVISOR)).text()
    lines = [line.strip() for line in view.splitlines()]
    name = lines.index('Báo cáo viên: =HYPERLINK("http://evil.example","Đ/c Hùng")')
    assert lines[name + 1] == "Báo cáo viên là: Báo cáo viên cấp tỉnh/cấp huyện"
    assert "Đánh giá hội nghị: Chưa đạt" in view
    async with setup.db.read() as session:
        unit = (await session.execute(select(Unit).where(col(Unit.code) == "CS1"))).scalar_one()
        english = await unit_view_text(session=session, unit=unit, now=NOW, lang="en")
    assert 'Presenter: =HYPERLINK("http://evil.example","Đ/c Hùng")' in english

    book = tmp_path / "so-lieu.xlsx"
    async with setup.db.read() as session:
        await write_xlsx(
            session=session, campaign_id=setup.world.campaign_id, as_of=NOW, output=book
        )
    labels = (
        "Báo cáo viên",  # the form's label of the presenter's name
        t("export.measure.presenter_standing", "vi"),
        t("export.measure.assessment", "vi"),
    )
    assert _units_sheet_cells(book, "CS1", labels) == [
        '=HYPERLINK("http://evil.example","Đ/c Hùng")',  # as typed
        "Báo cáo viên cấp tỉnh/cấp huyện",
        "Chưa đạt",
    ]
    assert _units_sheet_cells(book, "CS2", labels) == [None, None, None]  # no session yet
    titles = _units_sheet_titles(book)
    assert titles.index(labels[0]) + 1 == titles.index(labels[1])  # side by side
