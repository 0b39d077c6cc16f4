"""/duyet on both channels (the scenario table's Telegram and Zalo drivers): return with a
reason -> the reporter amends with /capnhat -> approve -> locked -> reopen; strangers and
reporters refused; each notice queued once even when the turn is replayed after a kill."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage.evidence import attach_evidence
from storage.i18n import t
from storage.models import ROLE_REPORTER, Role
from storage.reports import current_version
from storage.review import APPROVED, PENDING, RETURNED
from tests.report_fixtures import NOW
from tests.review_fixtures import (
    kill_the_next_reply,
    require_review,
    review_notices,
    session_report,
)
from tests.test_channel_scenarios import Setup, setup

__all__ = ["setup"]

REPORTERS_OF_CS1 = 3  # Nguyễn Văn A, Lê Thị C, Trần Văn D


async def _state(s: Setup, number: int) -> tuple[str, int]:
    async with s.db.read() as session:
        version = await current_version(session=session, report_id=number)
        assert version is not None
        return version.review_state, version.version


def _text(texts: list[str]) -> str:
    joined = "\n".join(texts)
    assert "bấm" not in joined.lower()  # never "press" in these answers, on any channel
    return joined


async def _amend_essays(s: Setup, value: str) -> list[str]:
    await s.driver.say("reporter", "/capnhat")
    await s.driver.say("reporter", "so bai thu hoach da nop")
    await s.driver.say("reporter", value)
    return await s.driver.say("reporter", "Xác nhận")


async def test_return_amend_approve_locked_reopen(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, driver = setup, setup.driver
    await require_review(s.db, s.world.campaign_id)
    number = await session_report(s.db, s.world)
    unit = "Đảng bộ xã Đông (mã CS1)"

    listed = _text(await driver.say("supervisor", "/duyet"))
    assert "Có 1 báo cáo chờ duyệt:" in listed
    assert f"{number}. {unit}: Hội nghị học tập, quán triệt Nghị quyết (lần 1" in listed
    assert f"/duyet {number}" in listed
    if driver.channel == "zalo":  # typed commands only: no button labels as choices
        assert f"Trả lại số {number}" not in listed
    # The other district's reporter and the unit's own reporter may not review.
    for who in ("reporter", "outsider"):
        assert _text(await driver.say(who, f"/duyet {number}")) == t(
            "review.not_allowed", "vi", organisation=t("organisation.name", "vi")
        )
    assert (await _state(s, number))[0] == PENDING

    no_reason = _text(await driver.say("supervisor", f"/duyet tralai {number}"))
    assert no_reason == t("review.reason_required", "vi")
    assert await review_notices(s.db) == []

    # The return, killed between the commit and the send: the replay says it once, and the
    # reporters' notices were queued once.
    kill_the_next_reply(monkeypatch)
    update = driver.update("supervisor", f"/duyet trả lại {number} Thiếu biên bản hội nghị")
    with pytest.raises(asyncio.CancelledError):
        await driver.process("supervisor", update)
    returned = _text(await driver.process("supervisor", update))
    assert returned.startswith(f"Đã trả lại báo cáo số {number} ({unit}")
    assert "Thiếu biên bản hội nghị" in returned
    assert await driver.process("supervisor", update) == []
    notices = await review_notices(s.db)
    assert len(notices) == REPORTERS_OF_CS1
    assert all("Thiếu biên bản hội nghị" in n.payload["text"] for n in notices)
    assert all("/capnhat" in n.payload["text"] for n in notices)
    assert await _state(s, number) == (RETURNED, 1)

    status = _text(await driver.say("reporter", "/tinhtrang"))
    assert "Tình trạng duyệt: trả lại, lý do: Thiếu biên bản hội nghị." in status

    updated = _text(await _amend_essays(s, "26"))
    assert f"Đã cập nhật báo cáo số {number} (phiên bản 2)" in updated and "20 → 26" in updated
    assert await _state(s, number) == (PENDING, 2)
    assert "Tình trạng duyệt: chờ duyệt." in _text(await driver.say("reporter", "/tinhtrang"))

    approve = driver.update("supervisor", f"/duyet {number}")
    approved = _text(await driver.process("supervisor", approve))
    assert approved.startswith(f"Đã duyệt báo cáo số {number} ({unit}")
    assert await driver.process("supervisor", approve) == []  # a replay says and queues nothing
    assert len(await review_notices(s.db)) == 2 * REPORTERS_OF_CS1
    assert await _state(s, number) == (APPROVED, 2)
    again = _text(await driver.say("supervisor", f"/duyet {number}"))
    assert again == t("review.wrong_state.approved", "vi", number=number)

    locked = _text(await driver.say("reporter", "/capnhat"))
    assert locked == t("review.locked", "vi", number=number)
    assert await _state(s, number) == (APPROVED, 2)
    assert "Tình trạng duyệt: đã duyệt." in _text(await driver.say("reporter", "/tinhtrang"))

    no_reason = _text(await driver.say("supervisor", f"/duyet mo {number}"))
    assert no_reason == t("review.reason_required", "vi")
    reopened = _text(await driver.say("admin", f"/duyet mo {number} Bổ sung bài thu hoạch"))
    assert reopened.startswith(f"Đã mở lại báo cáo số {number}")
    assert len(await review_notices(s.db)) == 3 * REPORTERS_OF_CS1
    await _amend_essays(s, "27")
    assert await _state(s, number) == (PENDING, 3)
    assert _text(await driver.say("supervisor", "/duyet")).startswith("Có 1 báo cáo chờ duyệt")


async def test_nothing_to_review_and_strangers(setup: Setup) -> None:
    s = setup
    await require_review(s.db, s.world.campaign_id)
    assert _text(await s.driver.say("supervisor", "/duyet")) == t("review.list.none", "vi")
    number = await session_report(s.db, s.world)
    stranger = _text(await s.driver.say("stranger", f"/duyet {number}"))
    assert "Đảng bộ xã Đông" not in stranger and str(number) not in stranger
    assert _text(await s.driver.say("supervisor", "/duyet 999")) == t(
        "review.not_found", "vi", number=999
    )
    assert _text(await s.driver.say("supervisor", "/duyet abc")) == t("review.usage", "vi")


async def test_the_unit_view_shows_review_state_and_evidence(setup: Setup, tmp_path: Path) -> None:
    s = setup
    await require_review(s.db, s.world.campaign_id)
    number = await session_report(s.db, s.world)
    await s.driver.say("supervisor", f"/duyet tralai {number} Thiếu danh sách ký dự")
    async with s.db.write() as session:
        await attach_evidence(
            session=session,
            folder=tmp_path,
            report_id=number,
            data=b"\xff\xd8\xff\xe0 bien ban",
            person_id=s.world.reporter_id,
            channel=s.driver.channel,
            now=NOW,
        )
    view = _text(await s.driver.say("supervisor", "/donvi CS1"))
    assert "Tình trạng duyệt: trả lại, lý do: Thiếu danh sách ký dự" in view
    assert "Minh chứng: 1 tệp" in view


async def test_a_supervisor_who_reports_for_the_unit_cannot_decide_on_its_report(
    setup: Setup,
) -> None:
    s = setup
    await require_review(s.db, s.world.campaign_id)
    async with s.db.write() as session:
        session.add(
            Role(person_id=s.world.supervisor_id, kind=ROLE_REPORTER, unit_id=s.world.unit_id,
                 created_at=NOW)
        )  # fmt: skip
    number = await session_report(s.db, s.world)
    assert _text(await s.driver.say("supervisor", "/duyet")) == t("review.list.none", "vi")
    refused = _text(await s.driver.say("supervisor", f"/duyet {number}"))
    assert refused == t("review.own.approve", "vi", number=number)
    refused = _text(await s.driver.say("supervisor", f"/duyet tralai {number} Thiếu biên bản"))
    assert refused == t("review.own.return", "vi", number=number)
    assert await _state(s, number) == (PENDING, 1)
    assert await review_notices(s.db) == []
    approved = _text(await s.driver.say("admin", f"/duyet {number}"))  # another reviewer may
    assert approved.startswith(f"Đã duyệt báo cáo số {number}")
