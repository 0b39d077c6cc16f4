"""The web console's review page over plain HTTP: the reports waiting in the viewer's scope
with their figures and versions; approve / return with the required reason / reopen with a
reason, each refused and changing nothing with a forged CSRF token, a report outside the scope
(or that does not exist), a version that is no longer current, or one's own report."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from storage.db import Database
from storage.models import ROLE_REPORTER, ROLE_SUPERVISOR, Unit
from storage.reports import current_version
from storage.review import APPROVED, PENDING, RETURNED
from tests.factories import make_person, pk
from tests.review_fixtures import require_review, review_notices
from tests.web_fixtures import WebWorld, build_web_world, client_of, sign_in

REPORTERS_OF_CS1 = 3


@pytest.fixture
async def web(db: Database) -> WebWorld:
    found = await build_web_world(db)
    await require_review(db, found.world.campaign_id)
    return found


@pytest.fixture
async def client(web: WebWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_of(web):
        yield c


async def _current(web: WebWorld) -> tuple[str, int, int]:
    async with web.db.read() as session:
        version = await current_version(session=session, report_id=web.report_id)
        assert version is not None and version.id is not None
        return version.review_state, version.version, version.id


async def test_the_page_lists_figures_and_versions_and_decides(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, web, web.world.supervisor_id)
    home = await client.get("/")
    assert 'href="/review"' in home.text
    listed = await client.get("/review")
    assert listed.status_code == 200
    text = listed.text
    assert "Chờ duyệt (1)" in text and f"Báo cáo số {web.report_id}" in text
    assert "Đảng bộ xã Đông" in text and "lần 2" in text
    assert "Số bài thu hoạch đã nộp" in text and "<dd>24</dd>" in text  # the current figures
    assert "Các lần gửi (2)" in text and "20 → 24" in text  # what version 2 changed
    _state, _number, version_id = await _current(web)

    no_reason = await client.post(
        f"/review/{web.report_id}/return", data={"csrf": csrf, "version": version_id}
    )
    assert no_reason.status_code == 400 and "Đề nghị đồng chí ghi rõ lý do" in no_reason.text
    assert (await _current(web))[0] == PENDING and await review_notices(web.db) == []

    returned = await client.post(
        f"/review/{web.report_id}/return",
        data={"csrf": csrf, "version": version_id, "reason": "Thiếu biên bản hội nghị"},
    )
    assert returned.status_code == 303
    after = await client.get(returned.headers["location"])
    assert f"Đã trả lại báo cáo số {web.report_id}" in after.text and "Chờ duyệt (0)" in after.text
    assert (await _current(web))[0] == RETURNED
    notices = await review_notices(web.db)
    assert len(notices) == REPORTERS_OF_CS1
    assert all("Thiếu biên bản hội nghị" in n.payload["text"] for n in notices)
    # The same form again (a resubmission, the back button): refused, nothing more queued.
    again = await client.post(
        f"/review/{web.report_id}/return",
        data={"csrf": csrf, "version": version_id, "reason": "Thiếu biên bản hội nghị"},
    )
    assert again.status_code == 409 and len(await review_notices(web.db)) == REPORTERS_OF_CS1


async def test_approve_then_reopen_with_a_reason(web: WebWorld, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, web, web.admin_id)
    _state, _number, version_id = await _current(web)
    approved = await client.post(
        f"/review/{web.report_id}/approve", data={"csrf": csrf, "version": version_id}
    )
    assert approved.status_code == 303 and (await _current(web))[0] == APPROVED
    page = (await client.get("/review")).text
    assert "Đã duyệt (có thể mở lại)" in page and f"/review/{web.report_id}/reopen" in page
    twice = await client.post(
        f"/review/{web.report_id}/approve", data={"csrf": csrf, "version": version_id}
    )
    assert twice.status_code == 409 and "mở lại báo cáo với lý do" in twice.text
    blank = await client.post(
        f"/review/{web.report_id}/reopen", data={"csrf": csrf, "version": version_id, "reason": " "}
    )
    assert blank.status_code == 400 and (await _current(web))[0] == APPROVED
    reopened = await client.post(
        f"/review/{web.report_id}/reopen",
        data={"csrf": csrf, "version": version_id, "reason": "Bổ sung bài thu hoạch"},
    )
    assert reopened.status_code == 303 and (await _current(web))[0] == PENDING
    assert len(await review_notices(web.db)) == 2 * REPORTERS_OF_CS1


async def test_forged_csrf_out_of_scope_and_tampered_ids_change_nothing(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    _state, _number, version_id = await _current(web)
    csrf = await sign_in(client, web, web.world.supervisor_id)
    forged = await client.post(
        f"/review/{web.report_id}/approve", data={"csrf": "0" * len(csrf), "version": version_id}
    )
    assert forged.status_code == 403
    missing = await client.post(f"/review/{web.report_id}/approve", data={"version": version_id})
    assert missing.status_code == 403
    for path in (f"/review/{web.report_id + 99}/approve", "/review/abc/approve",
                 f"/review/{web.report_id}/delete", "/review/١/approve"):  # fmt: skip
        refused = await client.post(path, data={"csrf": csrf, "version": version_id})
        assert refused.status_code == 404, path
    stale = await client.post(
        f"/review/{web.report_id}/approve", data={"csrf": csrf, "version": version_id - 1}
    )
    assert stale.status_code == 409 and "đã có phiên bản mới" in stale.text
    bad = await client.post(f"/review/{web.report_id}/approve", data={"csrf": csrf})
    assert bad.status_code == 400

    # The supervisor of CS2 only: CS1's report is not theirs, exactly as if it did not exist.
    async for other in client_of(web):
        other_csrf = await sign_in(other, web, web.other_supervisor_id)
        assert f"Báo cáo số {web.report_id}" not in (await other.get("/review")).text
        outside = await other.post(
            f"/review/{web.report_id}/approve", data={"csrf": other_csrf, "version": version_id}
        )
        assert outside.status_code == 404 and "Đảng bộ xã Đông" not in outside.text
    # A reporter (no review power) does not even get the page.
    async for reporter in client_of(web):
        await sign_in(reporter, web, web.world.reporter_id)
        assert (await reporter.get("/review")).status_code == 404
    assert (await _current(web))[0] == PENDING and await review_notices(web.db) == []


async def test_a_supervisor_who_reports_for_the_unit_cannot_decide_on_its_report(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    async with web.db.write() as session:
        cs1 = await session.get(Unit, web.world.unit_id)
        both = await make_person(
            session, "Bí thư kiêm", roles=[(ROLE_SUPERVISOR, cs1), (ROLE_REPORTER, cs1)]
        )
    csrf = await sign_in(client, web, pk(both))
    assert "Chờ duyệt (0)" in (await client.get("/review")).text
    _state, _number, version_id = await _current(web)
    for action, data in (("approve", {}), ("return", {"reason": "Thiếu biên bản"})):
        own = await client.post(
            f"/review/{web.report_id}/{action}", data={"csrf": csrf, "version": version_id, **data}
        )
        assert own.status_code == 409 and "không tự" in own.text
    assert (await _current(web))[0] == PENDING and await review_notices(web.db) == []
