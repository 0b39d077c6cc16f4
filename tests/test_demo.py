"""The offline demo at small size: its files exist, read naturally, and its figures are the
figures module's for the same database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from bot.cli.demo import run_demo
from storage.db import Database
from storage.figures import compute_figures
from storage.i18n.formatting import percent
from storage.models import ReportVersion

END = date(2016, 6, 20)


async def test_small_demo_writes_every_file_and_its_figures_are_the_figures_module(
    tmp_path: Path,
) -> None:
    output = tmp_path / "out"
    sim, files = await run_demo(output, units=12, seed=7, end=END)
    for path in files.all():
        assert path.exists() and path.stat().st_size > 0, path

    transcript = files.transcript.read_text(encoding="utf-8")
    assert "Chào đồng chí" in transcript
    assert "Đã ghi nhận báo cáo số" in transcript
    assert "Traceback" not in transcript
    # The admin is a person with a personal name; "Ban Tuyên giáo" is only the speaker label.
    [admin] = sim.world.admins
    assert not admin.person_name.startswith("Ban Tuyên giáo") and "(" not in admin.person_name
    assert sim.names[sim.admin_id] == admin.person_name
    assert "Chào đồng chí Ban Tuyên giáo" not in transcript
    assert files.digest_chart is not None
    assert files.digest_chart.read_bytes().startswith(b"\x89PNG")
    assert "Tổng hợp" in load_workbook(files.workbook, read_only=True).sheetnames[0]
    assert sim.stats.reports > 0
    assert sim.stats.rejected_answers > 0  # typos were explained and asked again

    db = Database.from_url(f"sqlite+aiosqlite:///{output / 'demo.db'}")
    try:
        async with db.read() as session:
            figures = await compute_figures(
                session=session,
                campaign_id=sim.world.campaign_id,
                as_of=sim.clock(),
            )
            versions = (
                await session.execute(
                    select(ReportVersion).order_by(
                        col(ReportVersion.report_id), col(ReportVersion.version)
                    )
                )
            ).scalars()
            by_report: dict[int, list[ReportVersion]] = {}
            for version in versions:
                by_report.setdefault(version.report_id, []).append(version)
    finally:
        await db.dispose()
    # Each /capnhat of the demo picks the essays field (by its button) and raises it.
    corrected = [v for v in by_report.values() if len(v) > 1]
    assert sim.stats.corrections >= 1 and len(corrected) == sim.stats.corrections
    for first, second in corrected:
        assert second.essays is not None and first.essays is not None
        assert second.essays > first.essays and second.attended == first.attended

    summary = files.summary.read_text(encoding="utf-8")
    reported = sum(s.reported for level in figures.per_level for s in level.units.values())
    assert reported == sim.stats.reports  # every confirmed conversation is a reported unit
    session_status = figures.total.units["hoi_nghi"]
    assert (
        f"{session_status.reported}/{session_status.expected} đơn vị đã báo cáo "
        f"({session_status.on_time} đúng hạn, {session_status.late} trễ hạn, "
        f"{session_status.missing} chưa báo cáo)"
    ) in summary
    for group in figures.combined:
        assert percent(group.essay.numerator, group.essay.denominator, "vi") in summary
    narrative = files.narrative.read_text(encoding="utf-8")
    assert narrative.strip()


@pytest.mark.slow  # two whole demo runs
async def test_same_seed_same_texts(tmp_path: Path) -> None:
    """`--seed` makes the demo reproducible: the same transcript, digest, report and summary."""
    _, first = await run_demo(tmp_path / "a", units=10, seed=11, end=date(2016, 6, 6))
    _, second = await run_demo(tmp_path / "b", units=10, seed=11, end=date(2016, 6, 6))
    for one, two in (
        (first.transcript, second.transcript),
        (first.digest_text, second.digest_text),
        (first.narrative, second.narrative),
        (first.summary, second.summary),
    ):
        assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8"), one.name
    assert first.digest_chart is not None and second.digest_chart is not None
    assert first.digest_chart.read_bytes() == second.digest_chart.read_bytes()


async def test_two_level_demo_reports_by_its_own_groups(tmp_path: Path) -> None:
    """The 2025 structure: province -> communes and wards -> cells, no district level; the
    figures and the written report use the campaign's own groups."""
    output = tmp_path / "hai-cap"
    sim, files = await run_demo(output, units=40, seed=5, end=date(2016, 9, 5), two_level=True)
    assert "huyen" not in sim.world.units_by_level
    db = Database.from_url(f"sqlite+aiosqlite:///{output / 'demo.db'}")
    try:
        async with db.read() as session:
            figures = await compute_figures(
                session=session, campaign_id=sim.world.campaign_id, as_of=sim.clock()
            )
    finally:
        await db.dispose()
    assert [g.label_vi for g in figures.combined] == ["cấp tỉnh", "cấp xã, phường"]
    assert "huyen" not in {lv.code for lv in figures.levels}
    summary = files.summary.read_text(encoding="utf-8")
    assert "cấp xã, phường: tỷ lệ viết bài thu hoạch" in summary
    assert "cấp huyện" not in files.narrative.read_text(encoding="utf-8")
