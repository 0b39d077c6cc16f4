"""Figures over approved report versions only (storage.figures `approved_only`), and
`cadrebot report --approved-only` saying which basis it used."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage.access import scope_of
from storage.db import Database
from storage.figures import compute_figures
from storage.review import approve_report
from tests.report_fixtures import NOW, build_world
from tests.review_fixtures import require_review, session_report
from tests.test_cli_figures import _invoke, url
from tests.test_exports_cli import figures_url

__all__ = ["figures_url", "url"]


async def test_approved_only_counts_approved_versions(db: Database) -> None:
    world = await build_world(db)
    await require_review(db, world.campaign_id)
    approved = await session_report(db, world)
    await session_report(db, world, unit_id=world.other_unit_id)  # CS2: pending
    later = NOW + timedelta(hours=2)
    async with db.write() as session:
        scope = await scope_of(session=session, person_id=world.supervisor_id)
        await approve_report(
            session=session, scope=scope, report_id=approved, channel="cli", now=NOW
        )
    async with db.read() as session:
        every = await compute_figures(session=session, campaign_id=world.campaign_id, as_of=later)
        checked = await compute_figures(
            session=session, campaign_id=world.campaign_id, as_of=later, approved_only=True
        )
        before = await compute_figures(
            session=session,
            campaign_id=world.campaign_id,
            as_of=NOW - timedelta(minutes=1),  # the report existed; its approval did not
            approved_only=True,
        )
    cell, only = every.cells[("hoi_nghi", "co_so")], checked.cells[("hoi_nghi", "co_so")]
    assert not every.approved_only and checked.approved_only
    assert (cell.status.expected, cell.status.reported) == (2, 2)
    assert (only.status.expected, only.status.reported) == (2, 1)
    assert only.sums["attended"] == 28 and cell.sums["attended"] == 56
    assert before.cells[("hoi_nghi", "co_so")].status.reported == 0


def test_report_says_which_basis(url: str) -> None:
    args = ("--campaign", "13-KH/TU", "--as-of", "30/9/2016")
    code, out, _ = _invoke(url, *args)
    assert (code == 0 and "94,8%" in out) or "92,7%" in out
    # This campaign does not review reports: the paragraph has no basis sentence to add.
    assert "Số liệu tính trên" not in out and "được duyệt" not in out
    code, out, _ = _invoke(url, *args, "--approved-only")
    assert code == 0
    assert out.rstrip().endswith("Số liệu chỉ tính các báo cáo đã được duyệt.")
    assert "92,7%" not in out  # nothing in the article's data has been approved


async def test_the_digest_counts_reports_awaiting_the_readers_review(db: Database) -> None:
    from scheduler.digest import digest_data
    from scheduler.digest_text import render_digest

    world = await build_world(db)
    await session_report(db, world)
    async with db.read() as session:  # review not required: no such line
        data = await digest_data(session=session, person_id=world.supervisor_id, now=NOW)
    assert data is not None and data.pending_reviews == 0
    assert "chờ duyệt" not in render_digest(data)

    await require_review(db, world.campaign_id)
    await session_report(db, world, unit_id=world.other_unit_id)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=world.supervisor_id, now=NOW)
        assert data is not None and data.pending_reviews == 2
        assert "2 báo cáo chờ duyệt (xem bằng /duyet)." in render_digest(data)
        scope = await scope_of(session=session, person_id=world.supervisor_id)
    async with db.write() as session:
        await approve_report(
            session=session,
            scope=scope,
            report_id=(await pending_ids(session, scope))[0],
            channel="cli",
            now=NOW,
        )
    async with db.read() as session:
        data = await digest_data(session=session, person_id=world.supervisor_id, now=NOW)
    assert data is not None and "1 báo cáo chờ duyệt" in render_digest(data)


async def pending_ids(session, scope) -> list[int]:  # type: ignore[no-untyped-def]
    from storage.review import pending_reviews

    return [i.report_id for i in await pending_reviews(session=session, scope=scope)]


def _summary(path: Path) -> tuple[list[str], tuple[object, ...]]:
    """The summary sheet's first-column texts and its total row."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        rows = [row for row in book["Tổng hợp"].iter_rows(values_only=True) if row and row[0]]
    finally:
        book.close()
    total = next(row for row in rows if str(row[0]).startswith("Tổng"))
    return [str(row[0]) for row in rows], tuple(total)


def test_the_export_says_which_basis(figures_url: str, tmp_path: Path) -> None:
    from tests.test_exports_cli import _invoke as export

    totals: list[tuple[object, ...]] = []
    for flag, basis in (
        ((), "Số liệu tính trên tất cả các báo cáo đã gửi (kể cả báo cáo chưa được duyệt)."),
        (("--approved-only",), "Số liệu chỉ tính các báo cáo đã được duyệt."),
    ):
        out = tmp_path / f"bao-cao{len(flag)}.xlsx"
        args = ("export", "--campaign", "13-KH/TU", "--output", str(out), "--as-of", "15/10/2016")
        code, stdout, _ = export(figures_url, *args, *flag)
        assert code == 0, stdout
        assert basis in stdout
        texts, total = _summary(out)
        assert texts[-1] == basis
        totals.append(total)
    # Nothing in the reference data is approved: the approved-only total differs (no reports).
    assert totals[0] != totals[1]
