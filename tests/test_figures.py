"""Figures over a small tree with known sums, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import date, datetime
from fractions import Fraction

import pytest
from sqlalchemy import ColumnElement, false, or_, true

from storage.access import scope_of, scopes_of, visible_units_condition
from storage.db import Database
from storage.figures import (
    STATUS_LATE,
    STATUS_MISSING,
    STATUS_ON_TIME,
    CampaignNotFound,
    Figures,
    Rate,
    Status,
    UnitScope,
    compute_figures,
    compute_figures_many,
    figures_for_people,
    load_campaign,
    rate_change,
    unit_rows,
)
from storage.models import ROLE_ADMIN, ROLE_REPORTER, ROLE_SUPERVISOR, Unit
from storage.tree import in_subtree
from tests.figures_fixtures import Builder, Reference, random_tree, reference_tree, utc

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
    assert tinh.units["hoi_nghi"] == Status(expected=1, reported=1, on_time=1)
    assert huyen.units["hoi_nghi"] == Status(expected=2, reported=2, on_time=1)
    assert huyen.units["hoi_nghi"].late == 1
    assert co_so.units["hoi_nghi"] == Status(expected=4, reported=3, on_time=3)
    assert co_so.units["hoi_nghi"].missing == 1
    assert co_so.units["chuong_trinh"] == Status(expected=4, reported=3, on_time=2)
    assert co_so.units["ke_hoach"] == Status(expected=4, reported=3, on_time=3)
    assert huyen.units["ke_hoach"] == Status(expected=2, reported=1, on_time=1)

    assert (tinh.members, tinh.attended, tinh.essays) == (50, 48, 45)
    assert (huyen.members, huyen.attended, huyen.essays) == (100, 93, 87)  # H1 corrected to 37
    assert (co_so.members, co_so.attended, co_so.essays) == (50, 48, 45)
    assert huyen.nonmembers_attended == 6

    assert huyen.attendance == Rate(93, 100)
    assert huyen.essay == Rate(87, 93)
    assert tinh.unit_program == Rate(1, 1)
    assert huyen.unit_program == Rate(1, 2)  # H2 answered "no"
    assert co_so.unit_program == Rate(3, 4)  # C12 never reported
    assert huyen.action_plan == Rate(8, 10)
    assert co_so.action_plan == Rate(6, 7)

    # A level the campaign covers but with no unit: zeros, and no rate at all.
    assert chi_bo.units["hoi_nghi"] == Status()
    assert chi_bo.essay.value is None and chi_bo.attendance.value is None
    assert chi_bo.unit_program.value is None


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
    assert upper.units["hoi_nghi"] == Status(expected=3, reported=3, on_time=2)
    assert lower.essay == Rate(45, 48)
    assert f.total.unit_program == Rate(5, 7)
    assert f.total.action_plan == Rate(24, 27)
    assert f.total.unit_session == Status(expected=7, reported=6, on_time=5)


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
    assert co_so.units["hoi_nghi"] == Status(expected=1, reported=1, on_time=1)
    assert co_so.attendance == Rate(0, 0) and co_so.attendance.value is None
    assert co_so.essay.value is None
    assert co_so.action_plan == Rate(1, 2)
    assert f.level("tinh").units["hoi_nghi"] == Status()


async def test_overlapping_supervisor_units_are_counted_once(db: Database) -> None:
    ref = await _tree(db)
    b = ref.builder
    # A supervisor following district H1 and, separately, its cell C11.
    overlap = or_(in_subtree(Unit.path, b.path("H1")), Unit.id == b.id("C11"))  # type: ignore[arg-type]
    async with db.read() as session:
        f = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=AS_OF, unit_filter=overlap
        )
    assert f.level("co_so").units["hoi_nghi"] == Status(expected=3, reported=3, on_time=3)
    assert f.level("co_so").attended == 48
    assert f.level("huyen").units["hoi_nghi"] == Status(expected=1, reported=1, on_time=1)
    assert f.level("tinh").units["hoi_nghi"].expected == 0


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
    assert f.level("huyen").units["hoi_nghi"] == Status(expected=1, reported=0, on_time=0)
    assert f.level("co_so").units["hoi_nghi"].expected == 1  # C21 only; C22 is inactive


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
    assert early.level("co_so").units["hoi_nghi"] == Status(expected=5, reported=1, on_time=1)
    assert early.level("co_so").essays == 5
    assert early.level("co_so").units["chuong_trinh"].reported == 0
    # Nobody had reported a program yet: 0 of the 8 units then expected, not "no rate".
    assert early.total.unit_program == Rate(0, 8)
    # H1's correction (essays 36 -> 37) at 10:00 UTC on 1/9.
    assert before_fix.level("huyen").essays == 86
    assert after_fix.level("huyen").essays == 87
    assert before_fix.level("huyen").units["hoi_nghi"].on_time == 1


async def test_week_over_week_change(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        f = await compute_figures(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=utc(2016, 9, 5, 12),
            combined=[("tinh", "huyen")],
            with_previous=True,
        )
    assert f.previous is not None
    assert f.previous.as_of == utc(2016, 8, 29, 12)
    assert f.total.units["chuong_trinh"].reported == 4
    assert f.previous.total.units["chuong_trinh"].reported == 0
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
    assert f.total.unit_program == Rate(0, 1)


# ---------------------------------------------------------------------------------------------
# compute_figures_many / figures_for_people: equal to compute_figures, scope by scope


def _condition(scope: UnitScope) -> ColumnElement[bool]:
    """The unit filter compute_figures would be given for the same units."""
    if scope.whole_tree:
        return true()
    parts = [in_subtree(Unit.path, p) for p in scope.paths]
    if scope.unit_ids:
        parts.append(Unit.id.in_(scope.unit_ids))  # type: ignore[union-attr]
    return or_(*parts) if parts else false()


@pytest.mark.parametrize("seed", [3, 11])
async def test_many_equals_single_on_random_scopes(db: Database, seed: int) -> None:
    async with db.write() as session:
        tree = await random_tree(session, seed)
    rng = random.Random(seed)
    b = tree.builder
    scopes: dict[str, UnitScope] = {
        "empty": UnitScope(),
        "country": UnitScope(whole_tree=True),
        "nested": UnitScope(paths=(b.path("P0"), b.path("P0D0"), b.path("P0D0G0"))),
        "overlap": UnitScope(
            paths=(b.path("P1D0"),),
            unit_ids=(b.id("P1D0"), b.id("P1D0G0"), b.id("P1D0G0"), b.id("P0")),
        ),
    }
    for n in range(30):
        scopes[f"r{n}"] = UnitScope(
            paths=tuple(b.path(c) for c in rng.sample(tree.codes, rng.randint(0, 4))),
            unit_ids=tuple(b.id(c) for c in rng.choices(tree.codes, k=rng.randint(0, 5))),
        )
    combined = [("tinh", "huyen"), ("co_so", "chi_bo")]
    countries: dict[tuple[int, datetime], Figures] = {}
    for campaign_id in (tree.campaign_id, tree.scoped_campaign_id):
        for as_of in (utc(2016, 6, 20), utc(2016, 8, 31, 17), utc(2016, 10, 5)):
            async with db.read() as session:
                many = await compute_figures_many(
                    session=session,
                    campaign_id=campaign_id,
                    as_of=as_of,
                    scopes=scopes,
                    combined=combined,
                    with_previous=True,
                    chunk=7,  # several statements, a scope list split anywhere
                )
                assert list(many) == list(scopes)
                for key, scope in scopes.items():
                    single = await compute_figures(
                        session=session,
                        campaign_id=campaign_id,
                        as_of=as_of,
                        unit_filter=_condition(scope),
                        combined=combined,
                        with_previous=True,
                    )
                    # Dataclass equality: every cell (status, sums, non-null counts, programs),
                    # the carriers, the combined groups and the week-earlier figures.
                    assert many[key] == single, (campaign_id, as_of, key)
                countries[(campaign_id, as_of)] = many["country"]
    # The random data reaches the cases that matter: reports, late ones, inactive units, a
    # scoped campaign expecting part of the tree only.
    final = countries[(tree.campaign_id, utc(2016, 10, 5))]
    assert final.total.unit_session.reported > 10 and final.total.unit_session.late > 0
    assert final.total.unit_session.missing > 0
    scoped = countries[(tree.scoped_campaign_id, utc(2016, 10, 5))]
    assert 0 < scoped.total.units["hoi_nghi"].expected < final.total.unit_session.expected


async def test_many_splits_statements_by_rows(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.figures.many

    ref = await _tree(db)
    b = ref.builder
    scopes = {
        n: UnitScope(paths=tuple(b.path(c) for c in codes), unit_ids=(b.id("C21"),))
        for n, codes in enumerate([("H1", "C12"), ("TU",), ("C11", "C13", "H2"), ()])
    }
    async with db.read() as session:
        whole = await compute_figures_many(
            session=session, campaign_id=ref.campaign_id, as_of=AS_OF, scopes=scopes
        )
        monkeypatch.setattr(storage.figures.many, "ROWS_PER_STATEMENT", 2)
        split = await compute_figures_many(
            session=session, campaign_id=ref.campaign_id, as_of=AS_OF, scopes=scopes
        )
    assert split == whole
    assert whole[1].total.unit_session == Status(expected=7, reported=6, on_time=5)
    assert whole[3].level("co_so").units["hoi_nghi"] == Status(expected=1, reported=0)


async def test_many_counts_overlapping_units_once(db: Database) -> None:
    ref = await _tree(db)
    b = ref.builder
    scopes = {
        "ranges": UnitScope(paths=(b.path("H1"), b.path("C11"))),
        "range and id": UnitScope(paths=(b.path("H1"),), unit_ids=(b.id("C11"), b.id("C11"))),
        "ids": UnitScope(unit_ids=(b.id("C11"), b.id("C12"), b.id("C11"))),
    }
    async with db.read() as session:
        many = await compute_figures_many(
            session=session, campaign_id=ref.campaign_id, as_of=AS_OF, scopes=scopes
        )
    for key in ("ranges", "range and id"):
        co_so = many[key].level("co_so")
        assert co_so.units["hoi_nghi"] == Status(expected=3, reported=3, on_time=3), key
        assert co_so.attended == 48
        assert many[key].level("huyen").units["hoi_nghi"].expected == 1
    assert many["ids"].level("co_so").units["hoi_nghi"] == Status(2, 2, 2)
    assert many["ids"].level("huyen").units["hoi_nghi"] == Status()


async def test_compute_figures_reuses_a_loaded_context(db: Database) -> None:
    ref = await _tree(db)
    async with db.read() as session:
        ctx = await load_campaign(session=session, campaign_id=ref.campaign_id)
        assert [lv.code for lv in ctx.levels] == ["tinh", "huyen", "co_so", "chi_bo"]
        fresh = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=AS_OF, with_previous=True
        )
        reused = await compute_figures(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=AS_OF,
            with_previous=True,
            context=ctx,
        )
        assert reused == fresh
        with pytest.raises(ValueError, match="campaign"):
            await compute_figures(
                session=session, campaign_id=ref.campaign_id + 1, as_of=AS_OF, context=ctx
            )


async def test_figures_for_people_follow_their_roles(db: Database) -> None:
    from scheduler.digest import digest_scope

    async with db.write() as session:
        ref = await reference_tree(session)
        b = ref.builder
        await b.person(1, [(ROLE_ADMIN, "H1")])
        await b.person(2, [(ROLE_SUPERVISOR, "H2"), (ROLE_SUPERVISOR, "C11")])
        await b.person(3, [(ROLE_ADMIN, None)])
        await b.person(4, [(ROLE_REPORTER, "C12")])  # no digest
        await b.person(5, [(ROLE_SUPERVISOR, "H1")], forgotten_at=utc(2016, 9, 1))  # no digest
        # A reporter role adds nothing to a digest; overlapping roles count a unit once.
        await b.person(
            6, [(ROLE_SUPERVISOR, "H1"), (ROLE_SUPERVISOR, "C12"), (ROLE_REPORTER, "C21")]
        )
        await b.person(7, [])
    people = [1, 2, 3, 4, 5, 6, 7, 99]
    async with db.read() as session:
        scopes = await scopes_of(session=session, person_ids=people)
        for pid in people:
            assert scopes[pid] == await scope_of(session=session, person_id=pid)
        got = await figures_for_people(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=AS_OF,
            person_ids=people,
            with_previous=True,
        )
        assert sorted(got) == [1, 2, 3, 6]
        for pid in got:
            digest = digest_scope(scopes[pid])
            assert digest is not None
            assert got[pid] == await compute_figures(
                session=session,
                campaign_id=ref.campaign_id,
                as_of=AS_OF,
                unit_filter=visible_units_condition(digest),
                with_previous=True,
            )
    assert got[6].level("co_so").units["hoi_nghi"] == Status(expected=3, reported=3, on_time=3)
    assert got[6].level("co_so").units["hoi_nghi"].expected == 3  # C21 (reporter) not counted
    assert got[3].total.unit_session == Status(expected=7, reported=6, on_time=5)
