"""The on-demand digest's statements are kept and run again at another moment
(storage.figures.memo): the kept statements give the same digest as statements built for that
moment, and a changed campaign (another deadline) is not answered from a kept statement."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from scheduler.digest import digest_data
from storage.db import Database
from storage.figures.memo import STATEMENTS
from storage.models import DeliverableDeadline
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
