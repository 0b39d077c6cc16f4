"""Drafts: one per person, optimistic revisions (a second or old press changes nothing)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage import drafts
from storage.db import Database
from storage.models import Draft
from tests.factories import pk
from tests.report_fixtures import NOW, build_world


async def test_one_draft_per_person_and_a_new_one_has_a_new_id(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        first = await drafts.start_draft(
            session=session,
            person_id=world.reporter_id,
            unit_id=world.unit_id,
            channel="telegram",
            now=NOW,
            step="pick_deliverable",
        )
        assert first.revision == 1
        assert await drafts.has_draft(session=session, person_id=world.reporter_id)
        assert not await drafts.has_draft(session=session, person_id=world.colleague_id)
        await drafts.advance(session=session, draft=first, seen_revision=1, now=NOW, step="a")
        first_id, first_tag = pk(first), drafts.nonce(first)
        second = await drafts.start_draft(
            session=session,
            person_id=world.reporter_id,
            unit_id=world.unit_id,
            channel="zalo",
            now=NOW + timedelta(seconds=1),
            step="session_date",
            deliverable_id=world.deliverables["hoi_nghi"],
        )
    async with db.read() as session:
        (found,) = (await session.execute(select(Draft))).scalars().all()
        assert pk(found) == pk(second)
        # Revisions continue after the replaced draft's, and the nonce differs even when SQLite
        # hands the new row the old row's id: no button of the old draft matches the new one.
        assert (found.step, found.channel, found.revision) == ("session_date", "zalo", 3)
        assert drafts.nonce(found) != first_tag
        for revision in (1, 2, 3):
            assert not drafts.is_current(found, draft_id=first_id, revision=revision, tag=first_tag)
        assert drafts.is_current(found, draft_id=pk(found), revision=3, tag=drafts.nonce(found))


async def test_advance_applies_only_at_the_revision_read(db: Database) -> None:
    world = await build_world(db)
    later = NOW + timedelta(minutes=1)
    async with db.write() as session:
        draft = await drafts.start_draft(
            session=session,
            person_id=world.reporter_id,
            unit_id=world.unit_id,
            channel="telegram",
            now=NOW,
            step="session_date",
            deliverable_id=world.deliverables["hoi_nghi"],
        )
        draft_id = pk(draft)
    async with db.write() as session:
        current = await drafts.get_draft(session=session, person_id=world.reporter_id)
        assert current is not None
        moved = await drafts.advance(
            session=session,
            draft=current,
            seen_revision=1,
            now=later,
            step="duration_halfdays",
            answers={"session_date": "2016-09-28"},
        )
        assert moved
        assert current.revision == 2 and current.step == "duration_halfdays"
    async with db.write() as session:
        late = await drafts.get_draft(session=session, person_id=world.reporter_id)
        assert late is not None
        # A press made for revision 1 arrives late: nothing changes.
        again = await drafts.advance(
            session=session, draft=late, seen_revision=1, now=later, step="members", answers={}
        )
        assert not again
    async with db.read() as session:
        stored = await drafts.get_draft(session=session, person_id=world.reporter_id)
        assert stored is not None
        assert (stored.revision, stored.step) == (2, "duration_halfdays")
        assert stored.answers == {"session_date": "2016-09-28"}
        assert stored.updated_at == later
    async with db.write() as session:
        assert await drafts.delete_draft(session=session, draft_id=draft_id)
        assert not await drafts.delete_draft(session=session, draft_id=draft_id)
        assert not await drafts.delete_person_draft(session=session, person_id=world.reporter_id)


async def test_advance_refuses_unknown_attributes(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        draft = await drafts.start_draft(
            session=session,
            person_id=world.reporter_id,
            unit_id=world.unit_id,
            channel="telegram",
            now=NOW,
            step="x",
        )
        try:
            await drafts.advance(
                session=session, draft=draft, seen_revision=1, now=NOW, person_id=999
            )
        except ValueError:
            pass
        else:
            raise AssertionError("advance accepted a person_id change")


async def test_buttons_made_in_local_time_still_match_after_reading_back(db: Database) -> None:
    """A draft started with a local-time `now` (the campaign's timezone) reads back in UTC; its
    buttons must still be current."""
    from zoneinfo import ZoneInfo

    world = await build_world(db)
    local_now = NOW.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    async with db.write() as session:
        made = await drafts.start_draft(
            session=session,
            person_id=world.reporter_id,
            unit_id=world.unit_id,
            channel="telegram",
            now=local_now,
            step="pick_deliverable",
        )
        tag = drafts.nonce(made)
    async with db.read() as session:
        found = await drafts.get_draft(session=session, person_id=world.reporter_id)
        assert found is not None
        assert drafts.is_current(found, draft_id=pk(found), revision=found.revision, tag=tag)
