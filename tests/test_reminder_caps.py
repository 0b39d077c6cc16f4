"""Weekly caps per person hold over all campaigns (#14.4): a reporter of units in two open
campaigns, and a Standing Committee member told of both, get at most the cap in a week."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from scheduler.jobs import escalation_pass, reminder_pass
from storage.db import Database
from storage.models import ROLE_REPORTER, Campaign, DeliverableDeadline, Outbox
from tests.sched_fixtures import World, add_role, build_world, local, make_campaign


def _reminders(**rules: Any) -> dict[str, Any]:
    return {"campaign": {"reminders": rules}}


async def _two_campaigns(db: Database, rules_a: dict[str, Any], rules_b: dict[str, Any]) -> World:
    """Campaign A (13-KH/TU) over H1 (CS1, CS2), campaign B (14-KH/TU) over H2 (CS3); r1
    reports for CS1 and for CS3."""
    world = await build_world(
        db,
        deliverables=[("hoi_nghi", "Hội nghị học tập", {"co_so": date(2016, 6, 10)})],
        definition=_reminders(**rules_a),
    )
    async with db.write() as session:
        await session.execute(
            update(Campaign)
            .where(col(Campaign.id) == world.campaign.id)
            .values(scope_unit_id=world.uid("H1"))
        )
        other, _ = await make_campaign(
            session,
            [("thu_hoach", "Bài thu hoạch", {"co_so": date(2016, 6, 10)})],
            reference="14-KH/TU",
            definition=_reminders(**rules_b),
        )
        other.scope_unit_id = world.uid("H2")
        await add_role(session, world.people["r1"], ROLE_REPORTER, world.units["CS3"])
    return world


async def _keys(db: Database, kind: str, person_id: int) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(
            select(col(Outbox.key)).where(
                col(Outbox.kind) == kind, col(Outbox.person_id) == person_id
            )
        )
    return sorted(rows.scalars().all())


async def test_a_reporter_in_two_campaigns_gets_at_most_the_weekly_cap(db: Database) -> None:
    rules = {"offsets_days": [-4, -3, -2, -1, 0], "reminders_per_week": 3}
    world = await _two_campaigns(db, rules, rules)
    r1, r2 = world.pid("r1"), world.pid("r2")
    for day in range(6, 10):  # Monday 6/6 .. Thursday 9/6: two units, two campaigns each day
        await reminder_pass(db, local(2016, 6, day, 8))
        await reminder_pass(db, local(2016, 6, day, 9))  # the hourly pass again: nothing new
    before_deadline = await _keys(db, "reminder", r1)
    assert len(before_deadline) == 3  # not 3 per campaign, not 3 per unit
    assert len(await _keys(db, "reminder", r2)) == 3  # r2 (CS2, campaign A only): its own cap
    await reminder_pass(db, local(2016, 6, 10, 8))  # the deadline day is still told, both units
    deadline_day = set(await _keys(db, "reminder", r1)) - set(before_deadline)
    assert {key.rsplit(":", 2)[1] for key in deadline_day} == {
        str(world.uid("CS1")),
        str(world.uid("CS3")),
    }


async def test_a_supervisor_gets_at_most_two_escalation_lists_a_week_over_all_campaigns(
    db: Database,
) -> None:
    overdue = {"escalations_per_week": 2}
    world = await _two_campaigns(
        db,
        {**overdue, "escalation_weekdays": ["monday", "thursday"]},
        {**overdue, "escalation_weekdays": ["tuesday", "wednesday", "friday"]},
    )
    async with db.write() as session:  # both deliverables long overdue (due 1/6)
        await session.execute(update(DeliverableDeadline).values(due_date=date(2016, 6, 1)))
    s_tu = world.pid("s_tu")  # on the province: told of A's CS1 and B's CS3
    for day in range(13, 18):  # Monday 13/6 .. Friday 17/6
        await escalation_pass(db, local(2016, 6, day, 8, 30))
    keys = await _keys(db, "escalation", s_tu)
    assert keys == [f"escalate:{s_tu}:2016-06-13", f"escalate:{s_tu}:2016-06-14"]
    for day in range(20, 25):  # the next week: two lists again
        await escalation_pass(db, local(2016, 6, day, 8, 30))
    assert len(await _keys(db, "escalation", s_tu)) == 4
