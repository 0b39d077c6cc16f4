"""Reminder, escalation and nudge planning: who is told what, on which local day."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select, update

from scheduler.reminders import enqueue_planned, nudge_unit, plan_escalations, plan_reminders
from storage.db import Database
from storage.models import DeliverableDeadline, Outbox, Person
from storage.reminders import NudgeOutcome, ReminderRules, quiet_hours_end
from tests.sched_fixtures import DUE, ZONE, World, build_world, confirm_report, local, nudge


async def _reminded(db: Database, world: World, when) -> dict[int, list[str]]:
    """person id -> texts planned at `when`."""
    async with db.read() as session:
        plans = await plan_reminders(session=session, campaign=world.campaign, now=when)
    out: dict[int, list[str]] = {}
    for plan in plans:
        out.setdefault(plan.person_id, []).append(plan.message().text)
    return out


async def test_each_offset_then_every_two_days_overdue_up_to_the_cap(db: Database) -> None:
    world = await build_world(db)
    r1 = world.pid("r1")
    days = []
    for offset in range(-6, 16):
        day = DUE + timedelta(days=offset)
        if r1 in await _reminded(db, world, local(day.year, day.month, day.day, 8)):
            days.append(offset)
    # 3 days before, 1 day before, on the day (Friday 10/6), then days 2, 4, 6, 8, 10 overdue
    # (cap 5) but for the weekend: 12/6 is a Sunday, 18/6 a Saturday.
    assert days == [-3, -1, 0, 4, 6, 10]


async def test_the_text_lists_the_deliverable_and_the_due_date_in_vietnamese(db: Database) -> None:
    world = await build_world(db)
    texts = await _reminded(db, world, local(2016, 6, 7, 8))
    (text,) = texts[world.pid("r1")]
    assert "Kính gửi đồng chí Nguyễn Văn Một" in text
    assert "Đảng bộ xã Đông Phong, mã CS1, còn phải báo cáo theo Kế hoạch 13-KH/TU:" in text
    assert "Hội nghị học tập, quán triệt: hạn 10/6/2016 (còn 3 ngày)" in text
    assert "/baocao" in text
    overdue = await _reminded(db, world, local(2016, 6, 14, 8))
    assert "hạn 10/6/2016, đã quá 4 ngày" in overdue[world.pid("r1")][0]
    # r3 chose English.
    (english,) = overdue[world.pid("r3")]
    assert "due 10 Jun 2016, 4 days overdue" in english
    assert "10/6/2016" not in english  # the reader's language writes the dates too


async def test_nothing_outside_the_send_window(db: Database) -> None:
    world = await build_world(db)
    r1 = world.pid("r1")
    assert r1 not in await _reminded(db, world, local(2016, 6, 9, 7, 59))  # before send hour
    assert r1 in await _reminded(db, world, local(2016, 6, 9, 8, 0))
    assert r1 in await _reminded(db, world, local(2016, 6, 9, 20, 59))  # late, same day
    assert r1 not in await _reminded(db, world, local(2016, 6, 9, 21, 0))  # quiet hours
    assert r1 not in await _reminded(db, world, local(2016, 6, 9, 3, 0))


def test_quiet_hours_end() -> None:
    start, end = time(21), time(7)
    assert quiet_hours_end(local(2016, 6, 9, 22), tz="Asia/Ho_Chi_Minh", start=start, end=end) == (
        local(2016, 6, 10, 7)
    )
    assert quiet_hours_end(local(2016, 6, 9, 3), tz="Asia/Ho_Chi_Minh", start=start, end=end) == (
        local(2016, 6, 9, 7)
    )
    assert (
        quiet_hours_end(local(2016, 6, 9, 12), tz="Asia/Ho_Chi_Minh", start=start, end=end) is None
    )


async def test_a_unit_that_reports_between_two_reminders_gets_no_more(db: Database) -> None:
    world = await build_world(db)
    r1, r2 = world.pid("r1"), world.pid("r2")
    first = await _reminded(db, world, local(2016, 6, 9, 8))
    assert r1 in first and r2 in first
    async with db.write() as session:
        await confirm_report(
            session, world.deliverables["hoi_nghi"], world.units["CS1"], local(2016, 6, 9, 15)
        )
    later = await _reminded(db, world, local(2016, 6, 10, 8))
    assert r1 not in later
    assert r2 in later


async def test_a_unit_owing_three_deliverables_gets_one_message(db: Database) -> None:
    world = await build_world(
        db,
        deliverables=[
            ("hoi_nghi", "Hội nghị học tập", {"co_so": date(2016, 6, 10)}),
            ("thu_hoach", "Bài thu hoạch", {"co_so": date(2016, 6, 12)}),
            ("chuong_trinh", "Chương trình hành động", {"co_so": date(2016, 6, 8)}),
        ],
    )
    texts = await _reminded(db, world, local(2016, 6, 9, 8))
    (text,) = texts[world.pid("r1")]
    assert "Hội nghị học tập: hạn 10/6/2016 (còn 1 ngày)" in text
    assert "Bài thu hoạch: hạn 12/6/2016 (còn 3 ngày)" in text
    assert "Chương trình hành động: hạn 8/6/2016, đã quá 1 ngày" in text
    async with db.read() as session:
        plans = await plan_reminders(
            session=session, campaign=world.campaign, now=local(2016, 6, 9, 8)
        )
    keys = [p.key for p in plans if p.person_id == world.pid("r1")]
    assert keys == [f"remind:{world.pid('r1')}:{world.uid('CS1')}:2016-06-09"]


async def test_planning_twice_queues_once(db: Database) -> None:
    world = await build_world(db)
    when = local(2016, 6, 9, 8)
    for expected_new in (3, 0):
        async with db.write() as session:
            plans = await plan_reminders(session=session, campaign=world.campaign, now=when)
            new = await enqueue_planned(session=session, planned=plans, now=when)
        assert len(new) == expected_new
    async with db.read() as session:
        rows = (await session.execute(select(Outbox))).scalars().all()
    assert len(rows) == 3
    assert all(row.kind == "reminder" and row.payload["quiet"]["start"] == "21:00" for row in rows)


async def _escalated(db: Database, world: World, day: date) -> dict[str, list[str]]:
    """recipient name key -> unit codes escalated to them on `day`."""
    async with db.read() as session:
        plans = await plan_escalations(
            session=session, campaign=world.campaign, now=local(day.year, day.month, day.day, 8)
        )
    names = {p.id: key for key, p in world.people.items()}
    codes = {u.id: code for code, u in world.units.items()}
    return {names[p.person_id]: sorted(codes[u] for u in p.unit_ids) for p in plans}


async def test_escalation_after_grace_then_up_the_tree(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        await confirm_report(
            session, world.deliverables["hoi_nghi"], world.units["CS2"], local(2016, 6, 9, 9)
        )
    # Due 10/6; grace 3 days: nothing up to 13/6.
    assert await _escalated(db, world, date(2016, 6, 13)) == {}
    # Thursday 16/6, 6 days overdue (escalations go out on Mondays and Thursdays): step 1.
    # CS1's nearest supervisor is s_h1 (on H1); CS3's district has none,
    # so its nearest supervised ancestor is TU (s_tu).
    assert await _escalated(db, world, date(2016, 6, 16)) == {"s_h1": ["CS1"], "s_tu": ["CS3"]}
    # A week later (13 overdue): step 2. CS1 reaches s_tu too; CS3 has no one higher than s_tu,
    # so the admin hears of it.
    assert await _escalated(db, world, date(2016, 6, 23)) == {
        "s_h1": ["CS1"],
        "s_tu": ["CS1", "CS3"],
        "admin": ["CS3"],
    }
    # 20 overdue: step 3, past every supervisor of CS1: the admin too.
    assert await _escalated(db, world, date(2016, 6, 30)) == {
        "s_h1": ["CS1"],
        "s_tu": ["CS1", "CS3"],
        "admin": ["CS1", "CS3"],
    }


async def test_escalation_text_and_key(db: Database) -> None:
    world = await build_world(db)
    async with db.read() as session:
        plans = await plan_escalations(
            session=session, campaign=world.campaign, now=local(2016, 6, 16, 9)
        )
    plan = next(p for p in plans if p.person_id == world.pid("s_h1"))
    assert plan.key == f"escalate:{world.pid('s_h1')}:2016-06-16"
    text = plan.message().text
    assert "tính đến ngày 16/6/2016" in text
    assert "2 đơn vị quá hạn" in text
    assert "Đảng bộ xã Đông Phong (CS1)" in text
    assert "hạn 10/6/2016, đã quá 6 ngày" in text
    assert "/nhacnho" in text


async def test_an_english_escalation_writes_dates_the_english_way(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        supervisor = await session.get(Person, world.pid("s_h1"))
        assert supervisor is not None
        supervisor.language = "en"
    async with db.read() as session:
        plans = await plan_escalations(
            session=session, campaign=world.campaign, now=local(2016, 6, 16, 9)
        )
    english = next(p for p in plans if p.person_id == world.pid("s_h1")).message().text
    vietnamese = next(p for p in plans if p.person_id == world.pid("s_tu")).message().text
    assert "16 Jun 2016" in english and "due 10 Jun 2016" in english
    assert "/6/2016" not in english
    assert "16/6/2016" in vietnamese and "hạn 10/6/2016" in vietnamese


async def test_nudge_at_most_once_per_unit_per_day(db: Database) -> None:
    world = await build_world(db)
    cs1 = world.uid("CS1")
    boss = world.pid("s_h1")
    when = local(2016, 6, 9, 10)
    async with db.write() as session:
        first = await nudge_unit(session=session, unit_id=cs1, by_person_id=boss, now=when)
    async with db.write() as session:
        again = await nudge_unit(
            session=session, unit_id=cs1, by_person_id=boss, now=when + timedelta(hours=3)
        )
    assert first is NudgeOutcome.QUEUED and first.queued
    assert again is NudgeOutcome.ALREADY_TODAY
    async with db.read() as session:
        (row,) = (await session.execute(select(Outbox))).scalars().all()
    assert row.key == f"nudge:{cs1}:2016-06-09:{world.pid('r1')}"
    assert "đồng chí Phạm Văn Giám đề nghị" in row.payload["text"]
    assert "Hội nghị học tập, quán triệt: hạn 10/6/2016 (còn 1 ngày)" in row.payload["text"]
    async with db.write() as session:
        tomorrow = await nudge_unit(
            session=session, unit_id=cs1, by_person_id=boss, now=local(2016, 6, 10, 10)
        )
    assert tomorrow is NudgeOutcome.QUEUED


async def test_nudge_in_quiet_hours_waits_for_the_morning(db: Database) -> None:
    world = await build_world(db)
    outcome = await nudge(db, world, "CS1", "s_h1", local(2016, 6, 9, 22, 30))
    assert outcome.queued
    async with db.read() as session:
        row = (await session.execute(select(Outbox))).scalar_one()
    assert row.not_before == local(2016, 6, 10, 7)


async def test_nudge_with_nothing_owed(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        await confirm_report(
            session, world.deliverables["hoi_nghi"], world.units["CS1"], local(2016, 6, 9, 9)
        )
        outcome = await nudge_unit(
            session=session,
            unit_id=world.uid("CS1"),
            by_person_id=world.pid("s_h1"),
            now=local(2016, 6, 9, 10),
        )
        district = await nudge_unit(
            session=session,
            unit_id=world.uid("H1"),  # no deliverable applies at district level
            by_person_id=world.pid("s_tu"),
            now=local(2016, 6, 9, 10),
        )
    assert outcome is NudgeOutcome.NOTHING_OWED
    assert district is NudgeOutcome.NOTHING_OWED


def test_rules_from_the_stored_campaign_definition() -> None:
    stored = {
        "campaign": {
            "reminders": {
                "offsets_days": [-5, 0],
                "overdue_every_days": 3,
                "overdue_cap": 2,
                "send_hour": 9,
                "quiet_hours": {"start": "22:00:00", "end": "06:30:00"},
                "escalation_grace_days": 1,
            }
        },
        "deliverables": [],
    }
    rules = ReminderRules.from_definition(stored)
    assert rules.reminder_days() == {-5, 0, 3, 6}
    assert rules.horizon_days() == 5
    assert (rules.quiet_start, rules.quiet_end) == (time(22), time(6, 30))
    assert rules.escalation_step(1) == 0
    assert rules.escalation_step(2) == 1
    assert rules.escalation_step(9) == 2
    assert ReminderRules.from_definition({}) == ReminderRules()
    with pytest.raises(ValueError, match="quiet"):
        ReminderRules.from_definition({"reminders": {"send_hour": 22}})


async def test_inactive_units_and_other_levels_are_not_reminded(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        unit = await session.get(type(world.units["CS1"]), world.uid("CS1"))
        assert unit is not None
        unit.active = False
    texts = await _reminded(db, world, local(2016, 6, 9, 8))
    assert world.pid("r1") not in texts
    assert world.pid("s_h1") not in texts
    assert ZONE.key == "Asia/Ho_Chi_Minh"


# --- days off and weekly caps (#14.4) ---------------------------------------------------------


def test_days_off_are_weekends_vietnamese_holidays_with_tet_and_the_campaigns_own() -> None:
    from storage.reminders.days_off import is_day_off

    assert is_day_off(date(2016, 9, 2))  # National Day, a Friday
    assert is_day_off(date(2016, 2, 8))  # Tết (lunar new year), a Monday
    assert is_day_off(date(2026, 2, 17))  # Tết 2026
    assert is_day_off(date(2016, 4, 16))  # Giỗ Tổ Hùng Vương (10/3 lunar)
    assert is_day_off(date(2016, 6, 11)) and is_day_off(date(2016, 6, 12))  # Sat, Sun
    assert not is_day_off(date(2016, 6, 13))
    assert is_day_off(date(2016, 6, 13), extra={date(2016, 6, 13)})


async def test_no_reminder_on_a_day_off_unless_the_deadline_is_that_day(db: Database) -> None:
    definition = {
        "campaign": {"reminders": {"offsets_days": [-3, -1, 0], "days_off": ["2016-06-09"]}}
    }
    world = await build_world(db)
    async with db.write() as session:
        campaign = await session.get(type(world.campaign), world.campaign.id)
        assert campaign is not None
        campaign.definition = definition
    world.campaign.definition = definition
    r1 = world.pid("r1")
    assert r1 not in await _reminded(db, world, local(2016, 6, 9, 8))  # campaign day off
    assert r1 in await _reminded(db, world, local(2016, 6, 7, 8))
    # A deadline on a Saturday is still told that day; nothing on the Sunday after.
    async with db.write() as session:
        await session.execute(
            update(DeliverableDeadline).values(due_date=date(2016, 6, 11))  # a Saturday
        )
    assert r1 in await _reminded(db, world, local(2016, 6, 11, 8))
    assert r1 not in await _reminded(db, world, local(2016, 6, 12, 8))


async def test_escalations_only_on_mondays_and_thursdays_at_most_twice_a_week(
    db: Database,
) -> None:
    world = await build_world(db)
    sent_on = []
    for day in range(13, 27):  # two weeks, all overdue (due 10/6)
        when = local(2016, 6, day, 8, 30)
        async with db.read() as session:
            plans = await plan_escalations(session=session, campaign=world.campaign, now=when)
        if plans:
            async with db.write() as session:
                await enqueue_planned(session=session, planned=plans, now=when)
            sent_on.append(date(2016, 6, day).strftime("%a %d"))
    assert sent_on == ["Thu 16", "Mon 20", "Thu 23"]  # Mon 13: still in the grace days


async def test_a_supervisors_chosen_days_replace_the_campaigns(db: Database) -> None:
    from storage.reminders.preferences import set_escalation_days

    world = await build_world(db)
    async with db.write() as session:
        await set_escalation_days(session=session, person_id=world.pid("s_h1"), days=(4,))
    thursday = await _escalated(db, world, date(2016, 6, 16))
    friday = await _escalated(db, world, date(2016, 6, 17))
    assert "s_h1" not in thursday and "s_tu" in thursday  # s_tu keeps Monday and Thursday
    assert "s_h1" in friday and "s_tu" not in friday


async def test_a_reporter_gets_at_most_the_weekly_cap_except_on_the_deadline_day(
    db: Database,
) -> None:
    definition = {
        "campaign": {"reminders": {"offsets_days": [-4, -3, -2, -1, 0], "reminders_per_week": 2}}
    }
    world = await build_world(db)
    async with db.write() as session:
        campaign = await session.get(type(world.campaign), world.campaign.id)
        assert campaign is not None
        campaign.definition = definition
    world.campaign.definition = definition
    r1 = world.pid("r1")
    told = []
    for day in range(6, 11):  # Monday 6/6 .. Friday 10/6 (the deadline)
        when = local(2016, 6, day, 8)
        async with db.read() as session:
            plans = await plan_reminders(session=session, campaign=world.campaign, now=when)
        async with db.write() as session:
            new = await enqueue_planned(session=session, planned=plans, now=when)
        if any(plan.person_id == r1 and plan.key in new for plan in plans):
            told.append(day)
    assert told == [6, 7, 10]  # two in the week, then the deadline day itself
