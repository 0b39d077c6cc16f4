"""The review page in a real headless browser (the Chromium and server of
tests/test_web_browser.py): a supervisor returns a report with a reason typed into the form,
the browser refuses to send the form without one, and the approved report offers its reopen
form. SQLite only, like the other browser tests."""

from __future__ import annotations

from storage.reports import current_version
from storage.review import APPROVED, RETURNED
from tests.review_fixtures import require_review, review_notices
from tests.test_web_browser import CHROMIUM, Site, _sign_in, pytestmark, site

__all__ = ["CHROMIUM", "pytestmark", "site"]


async def _state(site: Site) -> str:
    async with site.web.db.read() as session:
        version = await current_version(session=session, report_id=site.web.report_id)
        assert version is not None
        return version.review_state


async def test_return_with_a_reason_in_the_browser(site: Site) -> None:
    web = site.web
    await require_review(web.db, web.world.campaign_id)
    page = await _sign_in(site, web.world.supervisor_id)
    await page.click("nav a[href='/review']")  # type: ignore[attr-defined]
    await page.wait_for_url(f"{site.base}/review")  # type: ignore[attr-defined]
    card = f"#r{web.report_id}"
    text = await page.inner_text(card)  # type: ignore[attr-defined]
    assert "Đảng bộ xã Đông" in text and "Số bài thu hoạch đã nộp" in text
    # Without a reason the browser keeps the form (required field): nothing is sent.
    await page.click(f"{card} form.return button")  # type: ignore[attr-defined]
    assert page.url == f"{site.base}/review"  # type: ignore[attr-defined]
    assert await _state(site) != RETURNED
    await page.fill(f"{card} form.return textarea", "Thiếu biên bản hội nghị")  # type: ignore[attr-defined]
    await page.click(f"{card} form.return button")  # type: ignore[attr-defined]
    await page.wait_for_url("**/review?done=return*")  # type: ignore[attr-defined]
    status = await page.inner_text("[role=status]")  # type: ignore[attr-defined]
    assert f"Đã trả lại báo cáo số {web.report_id}" in status
    assert await _state(site) == RETURNED
    assert len(await review_notices(web.db)) == 3
    width = await page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 360  # the page fits the phone


async def test_approve_then_the_reopen_form(site: Site) -> None:
    web = site.web
    await require_review(web.db, web.world.campaign_id)
    page = await _sign_in(site, web.admin_id)
    await page.goto(f"{site.base}/review")  # type: ignore[attr-defined]
    await page.click(f"#r{web.report_id} form.approve button")  # type: ignore[attr-defined]
    await page.wait_for_url("**/review?done=approve*")  # type: ignore[attr-defined]
    assert await _state(site) == APPROVED
    assert await page.locator(f"#r{web.report_id} form.reopen").count() == 1  # type: ignore[attr-defined]
