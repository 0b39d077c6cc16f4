"""The on-demand digest's statements are kept and run again at another moment
(storage.figures.memo): the kept statements give the same digest as statements built for that
moment, and a changed campaign (another deadline) is not answered from a kept statement."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from scheduler.digest import digest_data
from storage.db import Database
from storage.figures.memo import STATEMENTS
from storage.models import ROLE_SUPERVISOR, DeliverableDeadline, Unit
from tests.factories import make_person, pk
from tests.test_digest import NOW, _world


async def test_a_kept_statement_gives_the_digest_of_the_new_moment(db: Database) -> None:
    _, ids = await _world(db)
    moments = [NOW - timedelta(days=days) for days in (0, 7, 30, 3)]
    async with db.read() as session:
        fresh = []
        for moment in moments:
            STATEMENTS.clear()  # every statement built for this moment
            fresh.append(await digest_data(session=session, person_id=ids["sup"], now=moment))
        STATEMENTS.clear()
        kept = [
            await digest_data(session=session, person_id=ids["sup"], now=moment)
            for moment in moments
        ]
    assert len(STATEMENTS) > 0
    assert kept == fresh
    assert fresh[0] != fresh[2]  # the moments differ in what they say


async def test_a_moved_deadline_is_not_answered_from_a_kept_statement(db: Database) -> None:
    _, ids = await _world(db)
    async with db.read() as session:
        before = await digest_data(session=session, person_id=ids["sup"], now=NOW)
    async with db.write() as session:
        for deadline in (await session.execute(select(DeliverableDeadline))).scalars():
            deadline.due_date += timedelta(days=60)
    async with db.read() as session:
        after = await digest_data(session=session, person_id=ids["sup"], now=NOW)
        STATEMENTS.clear()
        rebuilt = await digest_data(session=session, person_id=ids["sup"], now=NOW)
    assert before is not None and after is not None
    assert after == rebuilt
    assert after.campaigns[0].overdue != before.campaigns[0].overdue or (
        after.campaigns[0].late != before.campaigns[0].late
    )


async def test_people_of_the_same_scope_shape_share_a_statement_and_get_their_own_digest(
    db: Database,
) -> None:
    _, ids = await _world(db)
    async with db.write() as session:  # a supervisor of H2 only: one root, as sup_h1 has
        h2 = (await session.execute(select(Unit).where(col(Unit.code) == "H2"))).scalar_one()
        ids["sup_h2"] = pk(await make_person(session, "Đỗ Văn Hai", roles=[(ROLE_SUPERVISOR, h2)]))
    async with db.read() as session:
        fresh = {}
        for name in ("sup_h1", "sup_h2"):
            STATEMENTS.clear()
            fresh[name] = await digest_data(session=session, person_id=ids[name], now=NOW)
        STATEMENTS.clear()
        first = await digest_data(session=session, person_id=ids["sup_h1"], now=NOW)
        kept = len(STATEMENTS)
        second = await digest_data(session=session, person_id=ids["sup_h2"], now=NOW)
        assert len(STATEMENTS) == kept  # the second person's statements were the first's
    assert first == fresh["sup_h1"] and second == fresh["sup_h2"]
    assert first is not None and second is not None
    assert first.campaigns[0].figures != second.campaigns[0].figures  # their own units
