"""Review states per report version (storage.review): approve / return with a reason / reopen,
only inside the reviewer's scope, audited, approved versions locked, each notice queued once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.access import scope_of
from storage.db import Database
from storage.models import CHANNEL_CLI, ROLE_ADMIN, ROLE_REPORTER, ROLE_SUPERVISOR, AuditLog, Unit
from storage.reports import current_version, update_report
from storage.review import (
    APPROVED,
    PENDING,
    RETURNED,
    ReportLocked,
    ReviewRefused,
    approve_report,
    pending_counts,
    pending_reviews,
    reopen_report,
    return_report,
)
from tests.factories import make_person, make_unit, pk
from tests.report_fixtures import NOW, World, build_world
from tests.review_fixtures import ANSWERS, require_review, review_notices, session_report


@pytest.fixture
async def world(db: Database) -> World:
    found = await build_world(db)
    await require_review(db, found.campaign_id)
    return found


async def _scope(db: Database, person_id: int):  # type: ignore[no-untyped-def]
    async with db.read() as session:
        return await scope_of(session=session, person_id=person_id)


async def _state(db: Database, report_id: int) -> tuple[str, str | None, int]:
    async with db.read() as session:
        version = await current_version(session=session, report_id=report_id)
        assert version is not None
        return version.review_state, version.review_reason, version.version


async def _amend(db: Database, world: World, report_id: int, essays: int) -> None:
    async with db.write() as session:
        await update_report(
            session=session,
            report_id=report_id,
            answers={**ANSWERS, "essays": essays},
            person_id=world.reporter_id,
            channel=CHANNEL_CLI,
            now=NOW + timedelta(hours=1),
        )


async def test_return_amend_approve_lock_reopen(db: Database, world: World) -> None:
    number = await session_report(db, world)
    reviewer = await _scope(db, world.supervisor_id)
    assert await _state(db, number) == (PENDING, None, 1)
    async with db.read() as session:
        assert [i.report_id for i in await pending_reviews(session=session, scope=reviewer)] == [
            number
        ]

    async with db.write() as session:
        with pytest.raises(ReviewRefused) as refused:
            await return_report(
                session=session, scope=reviewer, report_id=number, reason="  ", channel="t", now=NOW
            )
    assert refused.value.key == "review.reason_required"
    assert await _state(db, number) == (PENDING, None, 1)  # nothing changed

    async with db.write() as session:
        await return_report(
            session=session, scope=reviewer, report_id=number, reason="Thiếu biên bản",
            channel="telegram", now=NOW,
        )  # fmt: skip
    assert await _state(db, number) == (RETURNED, "Thiếu biên bản", 1)

    await _amend(db, world, number, essays=26)  # /capnhat: a new version, pending again
    assert await _state(db, number) == (PENDING, None, 2)

    async with db.write() as session:
        await approve_report(
            session=session, scope=reviewer, report_id=number, channel="zalo", now=NOW
        )
    assert (await _state(db, number))[0] == APPROVED
    with pytest.raises(ReportLocked):
        await _amend(db, world, number, essays=27)
    assert (await _state(db, number))[2] == 2  # no version was added

    async with db.write() as session:
        with pytest.raises(ReviewRefused) as refused:
            await reopen_report(
                session=session, scope=reviewer, report_id=number, reason="", channel="t", now=NOW
            )
    assert refused.value.key == "review.reason_required"
    async with db.write() as session:
        await reopen_report(
            session=session, scope=reviewer, report_id=number, reason="Bổ sung bài thu hoạch",
            channel="telegram", now=NOW,
        )  # fmt: skip
    assert await _state(db, number) == (PENDING, "Bổ sung bài thu hoạch", 2)
    await _amend(db, world, number, essays=27)
    assert await _state(db, number) == (PENDING, None, 3)

    async with db.read() as session:
        actions = list(
            (
                await session.execute(
                    select(AuditLog.action, AuditLog.actor_person_id)  # type: ignore[call-overload]
                    .where(AuditLog.action.like("review.%"))  # type: ignore[attr-defined]
                    .order_by(AuditLog.id)
                )
            ).all()
        )
    assert [a for a, _ in actions] == ["review.return", "review.approve", "review.reopen"]
    assert {who for _, who in actions} == {world.supervisor_id}

    # Each decision told the three reporters of CS1 once (in their language).
    notices = await review_notices(db)
    assert len(notices) == 9
    assert len({n.key for n in notices}) == 9
    assert {n.person_id for n in notices} == {
        world.reporter_id,
        world.colleague_id,
        world.double_id,
    }
    returned = [n.payload["text"] for n in notices if n.key.startswith("review:return")]
    assert "Thiếu biên bản" in returned[0] and "/capnhat" in returned[0]


async def test_a_forged_approval_from_outside_the_scope_is_refused(
    db: Database, world: World
) -> None:
    async with db.write() as session:
        province = await session.get(Unit, world.province_id)
        other = await make_unit(session, "H2", parent=province, level="huyen", members=90)
        elsewhere = await make_person(session, "Admin huyện khác", roles=[(ROLE_ADMIN, other)])
        cell = await make_unit(session, "CS9", parent=other, level="co_so", members=9)
        sub_admin = pk(elsewhere)
        cell_id = pk(cell)
    number = await session_report(db, world)
    for person_id in (sub_admin, world.reporter_id, world.stranger_id):
        scope = await _scope(db, person_id)
        async with db.write() as session:
            with pytest.raises(ReviewRefused) as refused:
                await approve_report(
                    session=session, scope=scope, report_id=number, channel="t", now=NOW
                )
            assert refused.value.key == "review.not_found"  # as for a report that does not exist
            assert await pending_reviews(session=session, scope=scope) == []
    assert (await _state(db, number))[0] == PENDING
    assert await review_notices(db) == []

    # The admin of the other district reviews its own cell; the province admin reviews both.
    own = await session_report(db, world, unit_id=cell_id)
    async with db.write() as session:
        await approve_report(
            session=session, scope=await scope_of(session=session, person_id=sub_admin),
            report_id=own, channel="t", now=NOW,
        )  # fmt: skip
        province_admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
        reporter = await make_person(session, "Người báo cáo CS9", roles=[(ROLE_REPORTER, cell)])
        assert reporter.id is not None
    async with db.read() as session:
        wide = await scope_of(session=session, person_id=pk(province_admin))
        assert {i.report_id for i in await pending_reviews(session=session, scope=wide)} == {number}


async def test_without_review_required_nothing_is_reviewed_or_locked(
    db: Database, world: World
) -> None:
    await require_review(db, world.campaign_id, required=False)
    number = await session_report(db, world)
    reviewer = await _scope(db, world.supervisor_id)
    async with db.write() as session:
        assert await pending_reviews(session=session, scope=reviewer) == []
        with pytest.raises(ReviewRefused) as refused:
            await approve_report(
                session=session, scope=reviewer, report_id=number, channel="t", now=NOW
            )
    assert refused.value.key == "review.not_required"
    await _amend(db, world, number, essays=25)  # versions count as they always did
    assert await _state(db, number) == (PENDING, None, 2)


async def test_approving_twice_is_refused_and_queues_nothing_more(
    db: Database, world: World
) -> None:
    number = await session_report(db, world)
    reviewer = await _scope(db, world.supervisor_id)
    async with db.write() as session:
        await approve_report(
            session=session, scope=reviewer, report_id=number, channel="t", now=NOW
        )
    async with db.write() as session:
        with pytest.raises(ReviewRefused) as refused:
            await approve_report(
                session=session, scope=reviewer, report_id=number, channel="t", now=NOW
            )
    assert refused.value.key == "review.wrong_state.approved"
    assert len(await review_notices(db)) == 3


async def test_nobody_approves_or_returns_their_own_report(db: Database, world: World) -> None:
    """A supervisor who is also a reporter of the unit, and an admin who wrote the version
    (a paper report typed in), are refused; another reviewer decides; nothing else changes."""
    async with db.write() as session:
        unit = await session.get(Unit, world.unit_id)
        both = await make_person(
            session, "Bí thư kiêm", roles=[(ROLE_SUPERVISOR, unit), (ROLE_REPORTER, unit)]
        )
        author = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
    number = await session_report(db, world)
    for person in (both, author):
        if person is author:
            async with db.write() as session:
                version = await current_version(session=session, report_id=number)
                assert version is not None
                version.created_by_person_id = pk(author)
        scope = await _scope(db, pk(person))
        async with db.write() as session:
            assert await pending_reviews(session=session, scope=scope) == []
            assert await pending_counts(session=session, scopes={pk(person): scope}) == {}
            for decide, reason in ((approve_report, None), (return_report, "Thiếu biên bản")):
                kwargs = {"reason": reason} if reason else {}
                with pytest.raises(ReviewRefused) as refused:
                    await decide(  # type: ignore[operator]
                        session=session, scope=scope, report_id=number, channel="t", now=NOW,
                        **kwargs,
                    )  # fmt: skip
                assert refused.value.key.startswith("review.own.")
    assert await _state(db, number) == (PENDING, None, 1)
    assert await review_notices(db) == []
    reviewer = await _scope(db, world.supervisor_id)
    async with db.write() as session:
        await approve_report(
            session=session, scope=reviewer, report_id=number, channel="t", now=NOW
        )
    assert (await _state(db, number))[0] == APPROVED
