"""/duyet's Telegram buttons: Duyệt / Trả lại per report, Mở lại on an approval; "Trả lại"
asks for the reason as the next message. A forged or replayed press (another district's
report, tampered data, a superseded or already-approved version, one's own report) is refused
in Vietnamese and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from storage.db import Database
from storage.i18n import t
from storage.models import CHANNEL_CLI, ROLE_ADMIN, ROLE_REPORTER, Role, Unit
from storage.reports import current_version, update_report
from storage.review import APPROVED, PENDING, RETURNED
from storage.review_asks import ASK_TTL
from tests.factories import make_person, make_unit, pk
from tests.report_fixtures import NOW, World, build_world
from tests.review_fixtures import ANSWERS, require_review, review_notices, session_report
from tests.telegram_harness import Calls, TelegramHarness, TgUser, bind

SUPERVISOR = TgUser(8701, "E")
OTHER_ADMIN = TgUser(8702, "H2")
REPORTER = TgUser(8703, "A")
REPORTERS_OF_CS1 = 3


@dataclass
class Setup:
    world: World
    harness: TelegramHarness
    db: Database
    number: int
    clock: list


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Setup]:
    world = await build_world(db)
    async with db.write() as session:
        province = await session.get(Unit, world.province_id)
        other = await make_unit(session, "H2", parent=province, level="huyen", members=90)
        admin = await make_person(session, "Admin huyện khác", roles=[(ROLE_ADMIN, other)])
    await bind(db, world.supervisor_id, SUPERVISOR)
    await bind(db, pk(admin), OTHER_ADMIN)
    await bind(db, world.reporter_id, REPORTER)
    await require_review(db, world.campaign_id)
    number = await session_report(db, world)
    clock = [NOW]
    harness = await TelegramHarness.start(db=db, clock=lambda: clock[0])
    yield Setup(world, harness, db, number, clock)
    await harness.stop()


async def _state(s: Setup) -> tuple[str, int, int]:
    async with s.db.read() as session:
        version = await current_version(session=session, report_id=s.number)
        assert version is not None and version.id is not None
        return version.review_state, version.version, version.id


def _data(calls: Calls, label: str) -> str:
    [data] = [b["callback_data"] for b in calls.buttons() if b["text"] == label]
    return str(data)


async def test_buttons_return_with_the_next_message_approve_and_reopen(setup: Setup) -> None:
    s, h, n = setup, setup.harness, setup.number
    listed = await h.send("/duyet", SUPERVISOR)
    assert "Có 1 báo cáo chờ duyệt" in listed.text()
    v1 = (await _state(s))[2]
    assert _data(listed, f"Duyệt số {n}") == f"dy:a:{n}:{v1}"
    give_back = _data(listed, f"Trả lại số {n}")

    asked = (await h.press(give_back, SUPERVISOR)).text()
    assert asked == t("review.ask.return", "vi", number=n, limit=500)
    assert (await _state(s))[0] == PENDING and await review_notices(s.db) == []
    returned = (await h.send("Thiếu biên bản hội nghị", SUPERVISOR)).text()
    assert (
        returned.startswith(f"Đã trả lại báo cáo số {n}") and "Thiếu biên bản hội nghị" in returned
    )
    assert (await _state(s))[0] == RETURNED
    assert len(await review_notices(s.db)) == REPORTERS_OF_CS1
    # The ask was answered once: the next message is an ordinary one again.
    assert "Đã trả lại" not in (await h.send("Cảm ơn", SUPERVISOR)).text()
    # The old buttons of version 1 no longer decide anything.
    assert (await h.press(f"dy:a:{n}:{v1}", SUPERVISOR)).text() == t(
        "review.wrong_state.returned", "vi", number=n
    )

    async with s.db.write() as session:  # the reporter amends: version 2, pending again
        await update_report(
            session=session, report_id=n, answers={**ANSWERS, "essays": 26},
            person_id=s.world.reporter_id, channel=CHANNEL_CLI, now=NOW + timedelta(hours=1),
        )  # fmt: skip
    _pending, version, v2 = await _state(s)
    assert (_pending, version) == (PENDING, 2)
    replayed = (await h.press(f"dy:a:{n}:{v1}", SUPERVISOR)).text()  # an old list's button
    assert replayed == t("review.stale", "vi", number=n)
    assert (await _state(s))[0] == PENDING

    approved = await h.press(f"dy:a:{n}:{v2}", SUPERVISOR)
    assert approved.text().startswith(f"Đã duyệt báo cáo số {n}")
    assert (await _state(s))[0] == APPROVED
    again = (await h.press(f"dy:a:{n}:{v2}", SUPERVISOR)).text()
    assert again == t("review.wrong_state.approved", "vi", number=n)
    assert len(await review_notices(s.db)) == 2 * REPORTERS_OF_CS1

    reopen = _data(approved, f"Mở lại số {n}")
    assert (await h.press(reopen, SUPERVISOR)).text() == t(
        "review.ask.reopen", "vi", number=n, limit=500
    )
    await h.send("/tonghop", SUPERVISOR)  # a command instead of the reason drops the question
    assert "Đã mở lại" not in (await h.send("Bổ sung bài thu hoạch", SUPERVISOR)).text()
    assert (await _state(s))[0] == APPROVED
    await h.press(reopen, SUPERVISOR)
    s.clock[0] = NOW + ASK_TTL + timedelta(minutes=1)  # a question left too long lapses
    assert "Đã mở lại" not in (await h.send("Bổ sung bài thu hoạch", SUPERVISOR)).text()
    await h.press(reopen, SUPERVISOR)
    reopened = (await h.send("Bổ sung bài thu hoạch", SUPERVISOR)).text()
    assert reopened.startswith(f"Đã mở lại báo cáo số {n}")
    assert (await _state(s))[0] == PENDING
    assert len(await review_notices(s.db)) == 3 * REPORTERS_OF_CS1


async def test_forged_and_tampered_presses_change_nothing(setup: Setup) -> None:
    s, h, n = setup, setup.harness, setup.number
    v1 = (await _state(s))[2]
    not_found = t("review.not_found", "vi", number=n)
    for data in (f"dy:a:{n}:{v1}", f"dy:r:{n}:{v1}"):  # another district's admin
        assert (await h.press(data, OTHER_ADMIN)).text() == not_found
    organisation = t("organisation.name", "vi")
    refused = t("review.not_allowed", "vi", organisation=organisation)
    assert (await h.press(f"dy:a:{n}:{v1}", REPORTER)).text() == refused
    bad = t("review.button.bad", "vi")
    for data in (f"dy:x:{n}:{v1}", f"dy:a:{n}", f"dy:a:{n}:{v1}:1", "dy:a:-1:2", "dy:a:١:2"):
        assert (await h.press(data, SUPERVISOR)).text() == bad
    assert (await h.press(f"dy:a:{n}:{v1 + 7}", SUPERVISOR)).text() == t(
        "review.stale", "vi", number=n
    )
    assert (await h.press(f"dy:a:{n + 50}:{v1}", SUPERVISOR)).text() == t(
        "review.not_found", "vi", number=n + 50
    )
    # A return asked by the outsider leaves no question behind for their next message.
    await h.press(f"dy:r:{n}:{v1}", OTHER_ADMIN)
    assert "Đã trả lại" not in (await h.send("Lý do giả", OTHER_ADMIN)).text()
    assert (await _state(s))[0] == PENDING
    assert await review_notices(s.db) == []


async def test_own_report_buttons_are_refused(setup: Setup) -> None:
    s, h, n = setup, setup.harness, setup.number
    async with s.db.write() as session:
        session.add(
            Role(person_id=s.world.supervisor_id, kind=ROLE_REPORTER, unit_id=s.world.unit_id,
                 created_at=NOW)
        )  # fmt: skip
    v1 = (await _state(s))[2]
    listed = await h.send("/duyet", SUPERVISOR)
    assert listed.text() == t("review.list.none", "vi") and listed.buttons() == []
    assert (await h.press(f"dy:a:{n}:{v1}", SUPERVISOR)).text() == t(
        "review.own.approve", "vi", number=n
    )
    assert (await h.press(f"dy:r:{n}:{v1}", SUPERVISOR)).text() == t(
        "review.own.return", "vi", number=n
    )
    assert (await _state(s))[0] == PENDING
    assert await review_notices(s.db) == []
