"""The weekly digest: one per person for all their units, figures equal to storage.figures, the
change since last week, late and missing lists, shortcomings, unreachable people, the length
limit, English, and nobody gets a digest without a scope (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

import scheduler.digest as digest_module
from scheduler import jobs
from scheduler.digest import DigestData, compose_digest, digest_data, digest_data_many
from scheduler.digest_text import MAX_CHARS, _rates, change_text, delta_text, render_digest
from scheduler.jobs import digest_pass
from storage.db import Database
from storage.figures import UNIT, GroupFigures, Rate, compute_figures
from storage.models import (
    ASSESSMENT_FAILED,
    ASSESSMENT_PASSED,
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Campaign,
    Outbox,
    Person,
    Report,
    Unit,
)
from storage.shortcomings import LOW_ESSAY_RATE, SHORT_SESSION
from storage.tree import in_subtree
from tests.factories import make_person, pk
from tests.figures_fixtures import Builder, Reference, reference_tree, utc

# Monday 3/10/2016 08:00 in Hanoi. A week earlier (26/9) C21 had not reported its action program.
NOW = utc(2016, 10, 3, 1)


async def _unit(session: AsyncSession, ref: Reference, code: str) -> Unit:
    unit = await session.get(Unit, ref.builder.id(code))
    assert unit is not None
    return unit


async def _world(db: Database) -> tuple[Reference, dict[str, int]]:
    """The reference tree; a supervisor of H1, H2 and C11 (C11 lies under H1), an admin of the
    whole tree, a supervisor of H1 only, a reporter only, a person with no role."""
    async with db.write() as session:
        ref = await reference_tree(session)
        h1 = await _unit(session, ref, "H1")
        h2 = await _unit(session, ref, "H2")
        c11 = await _unit(session, ref, "C11")
        c21 = await _unit(session, ref, "C21")
        people = {
            "sup": await make_person(
                session,
                "Phạm Văn Giám",
                roles=[(ROLE_SUPERVISOR, h1), (ROLE_SUPERVISOR, h2), (ROLE_SUPERVISOR, c11)],
            ),
            "admin": await make_person(session, "Vũ Văn Quản", roles=[(ROLE_ADMIN, None)]),
            "sup_h1": await make_person(session, "Lê Thị Một", roles=[(ROLE_SUPERVISOR, h1)]),
            "reporter": await make_person(session, "Trần Văn Báo", roles=[(ROLE_REPORTER, c21)]),
            "nobody": await make_person(session, "Ngô Văn Khách"),
        }
    return ref, {name: pk(p) for name, p in people.items()}


async def test_one_digest_for_all_units_figures_equal_storage_figures(db: Database) -> None:
    ref, ids = await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=ids["sup"], now=NOW)
        assert data is not None and len(data.campaigns) == 1
        figures = data.campaigns[0].figures
        # The two districts' subtrees, computed separately by storage.figures, add up to the
        # digest: C11 (followed twice, directly and under H1) is counted once.
        parts = [
            await compute_figures(
                session=session,
                campaign_id=ref.campaign_id,
                as_of=NOW,
                root_path=ref.builder.path(code),
            )
            for code in ("H1", "H2")
        ]
        both = await compute_figures(
            session=session,
            campaign_id=ref.campaign_id,
            as_of=NOW,
            unit_filter=or_(
                in_subtree(UNIT.c.path, ref.builder.path("H1")),
                in_subtree(UNIT.c.path, ref.builder.path("H2")),
            ),
        )
    for key in ("hoi_nghi", "chuong_trinh", "ke_hoach"):
        assert figures.total.units[key] == parts[0].total.units[key] + parts[1].total.units[key]
    assert figures.total == both.total
    # H1, C11, C12, C13, H2, C21 (C22 was deactivated in August).
    assert figures.total.units["hoi_nghi"].expected == 6
    assert figures.total.essay.numerator == both.total.essays
    assert figures.previous is not None and figures.previous.as_of == NOW - timedelta(days=7)

    async with db.read() as session:
        person = await session.get(Person, ids["sup"])
        assert person is not None
        message = await compose_digest(session, person, NOW)
    assert message is not None and message.photo is not None
    text = message.text
    assert text.startswith("Bản tổng hợp tuần 40/2016 — Đợt học tập 13-KH/TU\n")
    assert "(6 đơn vị phải báo cáo)" in text
    # Units of both districts are in the one message.
    assert "Đảng bộ C12 (C12)" in text and "Đảng bộ C21 (C21)" in text


async def test_change_since_last_week(db: Database) -> None:
    _, ids = await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=ids["sup"], now=NOW)
    assert data is not None
    text = render_digest(data)
    # Action programs: 4/6 a week ago, 5/6 now (C21 reported on 2/10).
    assert (
        "(2) Báo cáo chuong_trinh\nĐã báo cáo: 5/6 đơn vị (83,3%, tăng 16,7 điểm phần trăm "
        "so với tuần trước)" in (text)
    )
    assert "Đã báo cáo: 5/6 đơn vị (83,3%, không đổi so với tuần trước)" in text
    assert (
        "Đơn vị có chương trình hành động: 66,7% (4/6 đơn vị; tăng 16,7 điểm phần trăm so với "
        "tuần trước)" in (text)
    )
    assert "Số liệu đến 08:00 ngày 3/10/2016; so sánh với cùng thời điểm ngày 26/9/2016." in text


async def test_missing_and_late_lists_and_per_level_table(db: Database) -> None:
    _, ids = await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=ids["sup"], now=NOW)
    assert data is not None
    campaign = data.campaigns[0]
    overdue = [(u.code, u.deliverables) for u in campaign.overdue.units]
    assert overdue == [
        ("C12", ("chuong_trinh",)),
        ("H2", ("ke_hoach",)),
        ("C21", ("hoi_nghi", "ke_hoach")),
    ]
    assert [(u.code, u.deliverables) for u in campaign.late.units] == [
        ("H2", ("hoi_nghi",)),
        ("C21", ("chuong_trinh",)),
    ]
    text = render_digest(data)
    assert (
        "Đơn vị chưa báo cáo (đã quá hạn): 3\n- Đảng bộ C12 (C12): (2)\n- Đảng bộ H2 (H2): (3)\n"
        "- Đảng bộ C21 (C21): (1), (3)"
    ) in text
    assert "Đơn vị báo cáo trễ hạn: 2\n- Đảng bộ H2 (H2): (1)\n- Đảng bộ C21 (C21): (2)" in text
    assert (
        "Cấp        (1)  (2)  (3)  Thu hoạch\n"
        "Cấp huyện  2/2  2/2  1/2      93,5%\n"
        "Cấp cơ sở  3/4  3/4  3/4      93,8%"
    ) in text
    assert "Cấp tỉnh" not in text  # the province unit is not followed by this supervisor
    assert "Theo cấp (đã báo cáo/phải báo cáo):\nCấp " in text  # rows are levels: "Theo cấp"


async def test_the_table_of_reporting_groups_is_headed_by_group_not_level(db: Database) -> None:
    """A campaign that declares its reporting groups gets one row per group: the heading and
    the first column say "nhóm", since a row such as "Cấp huyện và cấp cơ sở" is no level."""
    from dataclasses import replace

    from scheduler.digest_text import level_table
    from storage.figures.values import ReportingGroup

    _, ids = await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=ids["sup"], now=NOW)
    assert data is not None
    figures = replace(
        data.campaigns[0].figures,
        groups=(ReportingGroup("both", "cấp huyện và cấp cơ sở", "both", ("huyen", "co_so")),),
    )
    lines = level_table(figures, "vi")
    assert lines[0] == "Theo nhóm báo cáo (đã báo cáo/phải báo cáo):"
    assert lines[1].startswith("Nhóm ") and lines[2].startswith("Cấp huyện và cấp cơ sở ")


async def test_shortcomings_listed(db: Database) -> None:
    _, ids = await _world(db)
    async with db.read() as session:
        data = await digest_data(session=session, person_id=ids["sup"], now=NOW)
    assert data is not None
    kinds = {s.kind: [u.code for u in s.units] for s in data.campaigns[0].shortcomings}
    assert kinds[SHORT_SESSION] == ["C11"] and kinds[LOW_ESSAY_RATE] == ["C11"]
    text = render_digest(data)
    # Units by name, the code in brackets; each count out of the units it was checked over
    # (#13.5): 5 of the 6 followed units reported a session, 4 had members attending.
    assert (
        "Hạn chế:\n- Thời gian học tập dưới 2 buổi: 1/5 đơn vị (20,0%): Đảng bộ C11 (C11)" in text
    )
    assert "- Tỷ lệ viết bài thu hoạch dưới 90%: 1/4 đơn vị (25,0%): Đảng bộ C11 (C11)" in text
    assert (
        "- Chưa tập hợp đủ kế hoạch hành động của người đứng đầu: 2/4 đơn vị (50,0%): "
        "Đảng bộ H1 (H1), Đảng bộ C13 (C13)"
    ) in text
    # C12 has not reported its programme: "chưa báo cáo", not "chưa xây dựng" (#13.5); 5 units
    # reported theirs.
    assert (
        "- Hết hạn mà chưa xây dựng chương trình hành động: 1/5 đơn vị (20,0%): Đảng bộ H2 (H2)"
    ) in text


async def test_presenter_quality_listed_with_its_share_only_where_found(db: Database) -> None:
    """The article's first shortcoming (#13.4): a presenter of none of the expected standings or
    a session assessed "chưa đạt", out of the units whose presenter or assessment is known."""
    ref, ids = await _world(db)
    async with db.write() as session:
        b = replace(ref.builder, session=session)
        await b.correct(
            ref.reports[("hoi_nghi", "H1")], utc(2016, 9, 2), presenter_standing="bi_thu"
        )
        await b.correct(ref.reports[("hoi_nghi", "H2")], utc(2016, 9, 2), presenter_standing="khac")
        await _assess(session, ref.reports[("hoi_nghi", "C11")], ASSESSMENT_PASSED)
    async with db.read() as session:
        sup = await digest_data(session=session, person_id=ids["sup"], now=NOW)
        sup_h1 = await digest_data(session=session, person_id=ids["sup_h1"], now=NOW)
    assert sup is not None and sup_h1 is not None
    # H1, H2 and C11 have a presenter or an assessment on record; H2's presenter is "khác".
    vi = render_digest(sup)
    assert (
        "Hạn chế:\n- Chất lượng báo cáo viên chưa cao (hội nghị được đánh giá chưa đạt hoặc báo "
        "cáo viên không thuộc các đối tượng quy định): 1/3 đơn vị (33,3%): Đảng bộ H2 (H2)\n"
        "- Thời gian học tập dưới 2 buổi"
    ) in vi
    en = render_digest(replace(sup, lang="en"))
    assert (
        "Shortcomings:\n- Weak presenters (a session assessed as not satisfactory or a presenter "
        "of none of the expected standings): 1 of 3 units (33.3%) — Đảng bộ H2 (H2)\n"
    ) in en
    # H1's subtree: known presenters, a session assessed "đạt": no such line.
    assert "báo cáo viên" not in render_digest(sup_h1)
    assert "presenters" not in render_digest(replace(sup_h1, lang="en"))

    async with db.write() as session:
        await _assess(session, ref.reports[("hoi_nghi", "C11")], ASSESSMENT_FAILED)
    async with db.read() as session:
        sup_h1 = await digest_data(session=session, person_id=ids["sup_h1"], now=NOW)
    assert sup_h1 is not None
    assert "quy định): 1/2 đơn vị (50,0%): Đảng bộ C11 (C11)\n" in render_digest(sup_h1)


async def _assess(session: AsyncSession, report_id: int, assessment: str) -> None:
    await session.execute(
        update(Report)
        .where(col(Report.id) == report_id)
        .values(assessment=assessment, assessed_at=utc(2016, 9, 20))
    )


async def test_unreachable_reporters_told_to_their_admin_and_supervisor_only(
    db: Database,
) -> None:
    ref, ids = await _world(db)
    async with db.write() as session:
        c21 = await _unit(session, ref, "C21")
        c12 = await _unit(session, ref, "C12")
        blocked = await make_person(session, "Đỗ Văn Chặn", roles=[(ROLE_REPORTER, c21)])
        gone = await make_person(session, "Bùi Thị Quên", roles=[(ROLE_REPORTER, c12)])
        await session.execute(
            update(Person)
            .where(col(Person.id).in_([pk(blocked), pk(gone)]))
            .values(unreachable_at=utc(2016, 9, 30, 20), unreachable_reason="blocked")
        )
        await session.execute(
            update(Person).where(col(Person.id) == pk(gone)).values(forgotten_at=NOW)
        )
    async with db.read() as session:
        admin = await digest_data(session=session, person_id=ids["admin"], now=NOW)
        sup_h1 = await digest_data(session=session, person_id=ids["sup_h1"], now=NOW)
    assert admin is not None and sup_h1 is not None
    assert [(p.full_name, p.unit_code) for p in admin.unreachable] == [("Đỗ Văn Chặn", "C21")]
    text = render_digest(admin)
    # 20:00 UTC on 30/9 is 1/10 in Hanoi.
    assert (
        "Không liên lạc được (đã chặn hoặc rời bot): 1\n"
        "- Đỗ Văn Chặn, người báo cáo của Đảng bộ C21 (C21), từ 1/10/2016"
    ) in text
    # C21 is not under H1: that supervisor is not told (nor shown anything of C21).
    assert sup_h1.unreachable == () and sup_h1.unreachable_total == 0
    assert "C21" not in render_digest(sup_h1)


async def test_five_hundred_missing_units_fit_in_one_message(db: Database) -> None:
    async with db.write() as session:
        b = Builder(session)
        await b.levels()
        await b.unit("TU", "tinh", members=50)
        await b.unit("H1", "huyen", "TU", members=40)
        for i in range(500):
            await b.unit(f"X{i:03d}", "co_so", "H1", members=20)
        cid = await b.campaign()
        await b.deliverable(cid, "hoi_nghi", {"co_so": date(2016, 8, 31)}, position=1)
        h1 = await session.get(Unit, b.id("H1"))
        sup = await make_person(session, "Phạm Văn Giám", roles=[(ROLE_SUPERVISOR, h1)])
    async with db.read() as session:
        data = await digest_data(session=session, person_id=pk(sup), now=NOW)
    assert data is not None
    assert data.campaigns[0].overdue.total == 500
    text = render_digest(data)
    assert len(text) <= MAX_CHARS
    match = re.search(r"… và (\d+) đơn vị khác\.", text)
    assert match is not None
    listed = re.findall(r"^- Đảng bộ X\d{3} \(X\d{3}\)$", text, flags=re.MULTILINE)
    assert listed and len(listed) + int(match.group(1)) == 500
    assert "Đơn vị chưa báo cáo (đã quá hạn): 500" in text
    assert "/donvi MÃ" in text and "/xuat" in text
    # A tighter limit still holds: the lists shrink further.
    assert len(render_digest(data, limit=1200)) <= 1200


async def test_english_digest(db: Database) -> None:
    _, ids = await _world(db)
    async with db.write() as session:
        await session.execute(
            update(Person).where(col(Person.id) == ids["admin"]).values(language="en")
        )
    async with db.read() as session:
        person = await session.get(Person, ids["admin"])
        assert person is not None
        message = await compose_digest(session, person, NOW)
    assert message is not None
    text = message.text
    assert text.startswith("Weekly digest, week 40/2016 — Campaign 13-KH/TU\n")
    assert "Scope: every unit you administer (7 units expected to report)." in text
    assert "Reported: 6/7 units (85.7%, up 14.3 percentage points since last week)" in text
    assert "Province level" in text and "Cấp tỉnh" not in text
    assert (
        "Shortcomings:\n- Study shorter than 2 half-day sessions: 1 of 6 units (16.7%) — "
        "Đảng bộ C11 (C11)"
    ) in text


async def test_nothing_to_send_without_scope_or_open_campaign(db: Database) -> None:
    ref, ids = await _world(db)
    async with db.read() as session:
        for who in ("nobody", "reporter"):
            assert await digest_data(session=session, person_id=ids[who], now=NOW) is None
        assert await digest_data(session=session, person_id=999_999, now=NOW) is None
    async with db.write() as session:
        await session.execute(
            update(Campaign).where(col(Campaign.id) == ref.campaign_id).values(status="closed")
        )
    async with db.read() as session:
        assert await digest_data(session=session, person_id=ids["sup"], now=NOW) is None
        person = await session.get(Person, ids["admin"])
        assert person is not None
        assert await compose_digest(session, person, NOW) is None


async def test_digest_pass_queues_one_digest_per_person_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ids = await _world(db)
    monkeypatch.setattr(jobs, "DIGEST_CHUNK", 2)  # two batches: [sup, admin], [sup_h1]
    assert await digest_pass(db, NOW, compose_digest) == 3  # sup, admin, sup_h1
    assert await digest_pass(db, NOW, compose_digest) == 0
    async with db.read() as session:
        rows = (await session.execute(Outbox.__table__.select())).all()  # type: ignore[attr-defined]
        assert sorted(r.person_id for r in rows) == sorted(
            [ids["sup"], ids["admin"], ids["sup_h1"]]
        )
        assert all(r.payload["photo_b64"] and r.payload["text"] for r in rows)
        for row in rows:  # the batch composed exactly what /tonghop shows that person
            person = await session.get(Person, row.person_id)
            assert person is not None
            single = await compose_digest(session, person, NOW)
            assert single is not None and single.to_payload()["text"] == row.payload["text"]
    # The next ISO week: one more each.
    assert await digest_pass(db, NOW + timedelta(days=7), compose_digest) == 3


async def test_the_batch_digest_equals_each_single_digest(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ids = await _world(db)
    async with db.write() as session:
        # The reporter of C21 and the supervisor of H1 blocked the bot.
        await session.execute(
            update(Person)
            .where(col(Person.id).in_([ids["reporter"], ids["sup_h1"]]))
            .values(unreachable_at=NOW - timedelta(days=3))
        )
    receivers = sorted([ids["sup"], ids["admin"], ids["sup_h1"]])
    full: dict[int, DigestData] = {}
    for cap in (digest_module.LIST_CAP, 1):  # 1: every list is cut, inside the batch query
        monkeypatch.setattr(digest_module, "LIST_CAP", cap)
        async with db.read() as session:
            people = list((await session.execute(select(Person))).scalars().all())
            batch = await compose_digest.many(session, people, NOW)
            data = await digest_data_many(
                session=session, person_ids=[pk(p) for p in people] + [999_999], now=NOW
            )
            assert sorted(batch) == sorted(data) == receivers
            for person in people:
                single = await compose_digest(session, person, NOW)
                if pk(person) not in batch:
                    assert single is None
                    continue
                assert single is not None
                assert single.text == batch[pk(person)].text
                assert single.photo == batch[pk(person)].photo
                one = await digest_data(session=session, person_id=pk(person), now=NOW)
                assert one == data[pk(person)]
        if not full:
            full = data
            continue
        for pid, capped in data.items():
            for campaign, uncut in zip(capped.campaigns, full[pid].campaigns, strict=True):
                for listed, whole in (
                    (campaign.overdue, uncut.overdue),
                    (campaign.late, uncut.late),
                ):
                    assert listed.total == whole.total
                    assert listed.units == whole.units[:1]
            assert capped.unreachable == full[pid].unreachable[:1]
            assert capped.unreachable_total == full[pid].unreachable_total
    # Nobody lists themselves; each sees the unreachable people of their own units.
    unreachable = {pid: {u.person_id for u in d.unreachable} for pid, d in full.items()}
    assert unreachable[ids["admin"]] == {ids["reporter"], ids["sup_h1"]}
    assert unreachable[ids["sup"]] == {ids["reporter"], ids["sup_h1"]}
    assert unreachable[ids["sup_h1"]] == set()
    assert any(c.overdue.total > 1 for d in full.values() for c in d.campaigns)


def test_delta_is_rounded_half_up_and_signed() -> None:
    assert delta_text(Fraction(25, 2), "vi") == "+12,5"
    assert delta_text(Fraction(-1, 4), "vi") == "-0,3"
    assert delta_text(Fraction(100, 7), "en") == "+14.3"


def test_a_change_says_when_more_units_reported_since_last_week() -> None:
    # 30 of 40 members last week, 150 of 200 this week: the same 75%, over a larger set.
    assert change_text(Rate(150, 200), Rate(30, 40), "vi") == (
        "không đổi so với tuần trước (số được tính tăng từ 40 lên 200: thêm đơn vị báo cáo)"
    )
    assert change_text(Rate(160, 200), Rate(30, 40), "en") == (
        "up 5.0 percentage points since last week (the base grew from 40 to 200: more units"
        " reported)"
    )
    # A smaller base (a unit's report withdrawn) is not called growth.
    assert change_text(Rate(30, 40), Rate(150, 200), "vi") == "không đổi so với tuần trước"


def test_a_change_that_rounds_to_zero_is_no_change() -> None:
    # 2/3 -> 2001/3000: +0.0033 points, shown as 0,0: "không đổi", never "+0,0" or "-0,0".
    assert change_text(Rate(2001, 3000), Rate(2000, 3000), "vi") == "không đổi so với tuần trước"
    assert change_text(Rate(1999, 3000), Rate(2000, 3000), "vi") == "không đổi so với tuần trước"
    assert change_text(Rate(2, 3), Rate(2, 3), "en") == change_text(Rate(1, 1), Rate(1, 1), "en")
    assert (
        change_text(Rate(21, 30), Rate(20, 30), "vi") == "tăng 3,3 điểm phần trăm so với tuần trước"
    )
    # A fall says "giảm", never a bare minus sign; the unit is "điểm phần trăm" (#13.5).
    assert (
        change_text(Rate(2, 3), Rate(21, 30), "vi") == "giảm 3,3 điểm phần trăm so với tuần trước"
    )
    assert (
        change_text(Rate(2, 3), Rate(21, 30), "en") == "down 3.3 percentage points since last week"
    )


def test_the_action_plan_rate_names_its_unit() -> None:
    group = GroupFigures(
        levels=(),
        members=0,
        attended=0,
        nonmembers_attended=0,
        essays=0,
        heads_with_plan=15,
        heads=17,
    )
    assert _rates(group, None, "vi") == [
        "Các tỷ lệ chung:",
        "- Người đứng đầu có kế hoạch hành động: 88,2% (15/17 đồng chí)",
    ]
