"""Figures over a small tree with known sums, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy import or_

from storage.db import Database
from storage.figures import (
    STATUS_LATE,
    STATUS_MISSING,
    STATUS_ON_TIME,
    CampaignNotFound,
    Rate,
    Status,
    compute_change,
    compute_figures,
    rate_change,
    unit_rows,
)
from storage.models import Unit
from storage.tree import in_subtree
from tests.figures_fixtures import Builder, Reference, reference_tree, utc

AS_OF = utc(2016, 10, 5)


async def _tree(db: Database) -> Reference:
    async with db.write() as session:
        return await reference_tree(session)


async def test_status_and_sums_per_level(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        f = await compute_figures(session=session, campaign_id=ref.campaign_id, as_of=AS_OF)

    assert [lv.code for lv in f.levels] == ["tinh", "huyen", "co_so", "chi_bo"]
    assert f.carriers["attended"] == "hoi_nghi"
    assert f.carriers["action_program"] == "chuong_trinh"
    assert f.carriers["heads"] == "ke_hoach"

    tinh, huyen, co_so, chi_bo = f.per_level
    # The study session: H1 confirmed 23:59 local on the deadline day (on time, corrected later),
    # H2 at 00:00 local the next day (late); C21 never reported; C22 was deactivated.
    assert tinh.status["hoi_nghi"] == Status(expected=1, reported=1, on_time=1)
    assert huyen.status["hoi_nghi"] == Status(expected=2, reported=2, on_time=1)
    assert huyen.status["hoi_nghi"].late == 1
    assert co_so.status["hoi_nghi"] == Status(expected=4, reported=3, on_time=3)
    assert co_so.status["hoi_nghi"].missing == 1
    assert co_so.status["chuong_trinh"] == Status(expected=4, reported=3, on_time=2)
    assert co_so.status["ke_hoach"] == Status(expected=4, reported=3, on_time=3)
    assert huyen.status["ke_hoach"] == Status(expected=2, reported=1, on_time=1)

    assert (tinh.members, tinh.attended, tinh.essays) == (50, 48, 45)
    assert (huyen.members, huyen.attended, huyen.essays) == (100, 93, 87)  # H1 corrected to 37
    assert (co_so.members, co_so.attended, co_so.essays) == (50, 48, 45)
    assert huyen.nonmembers_attended == 6

    assert huyen.attendance == Rate(93, 100)
    assert huyen.essay == Rate(87, 93)
    assert tinh.action_program == Rate(1, 1)
    assert huyen.action_program == Rate(1, 2)  # H2 answered "no"
    assert co_so.action_program == Rate(3, 4)  # C12 never reported
    assert huyen.action_plan == Rate(8, 10)
    assert co_so.action_plan == Rate(6, 7)

    # A level the campaign covers but with no unit: zeros, and no rate at all.
    assert chi_bo.status["hoi_nghi"] == Status()
    assert chi_bo.essay.value is None and chi_bo.attendance.value is None
    assert chi_bo.action_program.value is None


async def test_combined_levels_pool_sums(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        f = await compute_figures(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=AS_OF,
            combined=[("tinh", "huyen"), ("co_so",)],
        )
    upper, lower = f.combined
    assert upper.level_codes == ("tinh", "huyen")
    # Pooled: (45 + 87) / (48 + 93), not the mean of the two percentages.
    assert upper.essay == Rate(132, 141)
    assert upper.attendance == Rate(141, 150)
    assert upper.status["hoi_nghi"] == Status(expected=3, reported=3, on_time=2)
    assert lower.essay == Rate(45, 48)
    assert f.total.action_program == Rate(5, 7)
    assert f.total.action_plan == Rate(24, 27)
    assert f.total.session == Status(expected=7, reported=6, on_time=5)


async def test_zero_members_unit_has_no_rate(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        f = await compute_figures(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=AS_OF,
            root_path=ref.builder.path("C13"),
        )
    co_so = f.level("co_so")
    assert co_so.status["hoi_nghi"] == Status(expected=1, reported=1, on_time=1)
    assert co_so.attendance == Rate(0, 0) and co_so.attendance.value is None
    assert co_so.essay.value is None
    assert co_so.action_plan == Rate(1, 2)
    assert f.level("tinh").status["hoi_nghi"] == Status()


async def test_overlapping_supervisor_units_are_counted_once(db: Database) -> None:
    ref = await _tree(db)
    b = ref.builder
    # A supervisor following district H1 and, separately, its cell C11.
    overlap = or_(in_subtree(Unit.path, b.path("H1")), Unit.id == b.id("C11"))  # type: ignore[arg-type]
    async with db.read() as session:
        f = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=AS_OF, unit_filter=overlap
        )
    assert f.level("co_so").status["hoi_nghi"] == Status(expected=3, reported=3, on_time=3)
    assert f.level("co_so").attended == 48
    assert f.level("huyen").status["hoi_nghi"] == Status(expected=1, reported=1, on_time=1)
    assert f.level("tinh").status["hoi_nghi"].expected == 0


async def test_campaign_scope_limits_units(db: Database) -> None:
    async with db.write() as session:
        ref = await reference_tree(session)
        b = ref.builder
        other = await b.campaign(reference="99-KH/HU", scope="H2")
        await b.deliverable(
            other, "hoi_nghi", {"huyen": date(2016, 7, 31), "co_so": date(2016, 8, 31)}
        )
    async with db.read() as session:
        f = await compute_figures(session=session, campaign_id=other, as_of=AS_OF)
    assert f.level("huyen").status["hoi_nghi"] == Status(expected=1, reported=0, on_time=0)
    assert f.level("co_so").status["hoi_nghi"].expected == 1  # C21 only; C22 is inactive


async def test_as_of_in_the_past_uses_older_versions_and_active_units(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        early = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=utc(2016, 8, 5)
        )
        before_fix = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=utc(2016, 9, 1, 9)
        )
        after_fix = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=utc(2016, 9, 1, 11)
        )
    # On 5/8 C22 was still active and had reported; C11, C12, C13 had not yet.
    assert early.level("co_so").status["hoi_nghi"] == Status(expected=5, reported=1, on_time=1)
    assert early.level("co_so").essays == 5
    assert early.level("co_so").status["chuong_trinh"].reported == 0
    # Nobody had reported a program yet: 0 of the 8 units then expected, not "no rate".
    assert early.total.action_program == Rate(0, 8)
    # H1's correction (essays 36 -> 37) at 10:00 UTC on 1/9.
    assert before_fix.level("huyen").essays == 86
    assert after_fix.level("huyen").essays == 87
    assert before_fix.level("huyen").status["hoi_nghi"].on_time == 1


async def test_week_over_week_change(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        f = await compute_change(
            session=session,
            campaign_id=ref.campaign_id,
            now=utc(2016, 9, 5, 12),
            combined=[("tinh", "huyen")],
        )
    assert f.previous is not None
    assert f.previous.as_of == utc(2016, 8, 29, 12)
    assert f.total.status["chuong_trinh"].reported == 4
    assert f.previous.total.status["chuong_trinh"].reported == 0
    now_rate, then_rate = f.combined[0].essay, f.previous.combined[0].essay
    assert (now_rate, then_rate) == (Rate(132, 141), Rate(131, 141))
    assert rate_change(now_rate, then_rate) == Fraction(100, 141)
    assert rate_change(Rate(1, 0), then_rate) is None


async def test_unit_rows_stream_every_expected_unit(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        rows = [
            row
            async for row in unit_rows(
                session=session, campaign_id=ref.campaign_id, as_of=AS_OF, batch_size=2
            )
        ]
    assert [r.code for r in rows] == ["TU", "H1", "C11", "C12", "C13", "H2", "C21"]
    by_code = {r.code: {d.key: d for d in r.deliverables} for r in rows}
    h1 = by_code["H1"]["hoi_nghi"]
    assert h1.status == STATUS_ON_TIME
    assert (h1.version, h1.measures["essays"]) == (2, 37)
    assert h1.report_id == ref.reports[("hoi_nghi", "H1")]
    assert h1.first_confirmed_at == utc(2016, 7, 31, 16, 59)
    assert by_code["H2"]["hoi_nghi"].status == STATUS_LATE
    assert by_code["C21"]["hoi_nghi"].status == STATUS_MISSING
    assert by_code["C21"]["hoi_nghi"].report_id is None
    assert by_code["C21"]["chuong_trinh"].status == STATUS_LATE
    assert list(by_code["TU"]) == ["hoi_nghi", "chuong_trinh", "ke_hoach"]
    assert rows[0].level_code == "tinh" and rows[0].members == 50


async def test_unknown_campaign(db: Database) -> None:
    async with db.read() as session:
        with pytest.raises(CampaignNotFound):
            await compute_figures(session=session, campaign_id=999, as_of=AS_OF)


async def test_carrier_found_from_form_before_any_report(db: Database) -> None:
    async with db.write() as session:
        b = Builder(session)
        await b.levels()
        await b.unit("TU", "tinh", members=5)
        cid = await b.campaign()
        await b.deliverable(
            cid, "ct", {"tinh": date(2016, 9, 30)}, form={"fields": [{"measure": "action_program"}]}
        )
    async with db.read() as session:
        f = await compute_figures(session=session, campaign_id=cid, as_of=AS_OF)
    assert f.carriers == {"action_program": "ct"}
    assert f.total.action_program == Rate(0, 1)
