"""A campaign from the desk in a real headless browser (the Chromium and server of
tests/test_web_browser.py), at phone width: the admin signs in through a link, creates a
campaign, edits a deadline on its page, closes it through the confirmation page and sees the
status change on the page and in the list; on its page they also add a deliverable of one of
the template's kinds and set the campaign's days off (an impossible date refused first). SQLite
only, like the other browser tests."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import col

from storage.campaigns import definition_of, deliverables_of
from storage.models import Campaign, Deliverable, DeliverableDeadline
from tests.test_web_browser import CHROMIUM, Site, _sign_in, pytestmark, site

__all__ = ["CHROMIUM", "pytestmark", "site"]


async def _fits(page: object) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 360  # nothing wider than the phone


async def test_create_edit_a_deadline_and_close_a_campaign(site: Site) -> None:
    db = site.web.db
    page = await _sign_in(site, site.web.admin_id)
    await page.goto(f"{site.base}/desk/campaigns")  # type: ignore[attr-defined]
    await page.click("a:has-text('Tạo đợt học tập mới')")  # type: ignore[attr-defined]
    await page.fill("input[name=name]", "Học tập Nghị quyết Trung ương 4")  # type: ignore[attr-defined]
    await page.fill("input[name=reference]", "05-KH/TU")  # type: ignore[attr-defined]
    await page.fill("input[name=start_date]", "2017-01-05")  # type: ignore[attr-defined]
    for field in await page.query_selector_all("input[name^=due__]"):  # type: ignore[attr-defined]
        await field.fill("2017-03-31")
    await page.click("button:has-text('Tạo đợt')")  # type: ignore[attr-defined]
    await page.wait_for_url("**/desk/campaigns?changed=*")  # type: ignore[attr-defined]
    async with db.read() as session:
        new = (
            await session.execute(select(Campaign).where(col(Campaign.reference) == "05-KH/TU"))
        ).scalar_one()
    card = f"#campaign-{new.id}"
    assert "Đang mở" in await page.inner_text(card)  # type: ignore[attr-defined]
    await page.click(f"{card} a:has-text('Xem, sửa')")  # type: ignore[attr-defined]
    await page.wait_for_url(f"**/desk/campaigns/{new.id}")  # type: ignore[attr-defined]
    await _fits(page)
    # A typed impossible date is refused beside its field, then a real one is saved.
    due = "input[name=due__hoi_nghi__co_so]"
    await page.fill(due, "31/2/2017")  # type: ignore[attr-defined]
    await page.click("button:has-text('Lưu thay đổi')")  # type: ignore[attr-defined]
    await page.wait_for_selector("#problems")  # type: ignore[attr-defined]
    assert "không có thật" in await page.inner_text("#problems")  # type: ignore[attr-defined]
    await page.fill(due, "20/4/2017")  # type: ignore[attr-defined]
    await page.click("button:has-text('Lưu thay đổi')")  # type: ignore[attr-defined]
    await page.wait_for_url("**?changed=saved")  # type: ignore[attr-defined]
    assert await page.input_value(due) == "20/4/2017"  # type: ignore[attr-defined]
    async with db.read() as session:
        stored = (
            await session.execute(
                select(col(DeliverableDeadline.due_date))
                .join(Deliverable, col(Deliverable.id) == col(DeliverableDeadline.deliverable_id))
                .where(
                    col(Deliverable.campaign_id) == new.id,
                    col(Deliverable.key) == "hoi_nghi",
                    col(DeliverableDeadline.level_code) == "co_so",
                )
            )
        ).scalar_one()
    assert stored == date(2017, 4, 20)
    # A deliverable of one of the template's kinds and the campaign's own days off.
    await page.select_option("select[name='kind__new-0']", "ke_hoach")  # type: ignore[attr-defined]
    await page.fill("input[name='name__new-0']", "Kế hoạch sơ kết")  # type: ignore[attr-defined]
    for level, due in (("tinh", "30/4/2017"), ("huyen", "2017-05-15")):
        await page.check(f"input[name='on__new-0__{level}']")  # type: ignore[attr-defined]
        await page.fill(f"input[name='due__new-0__{level}']", due)  # type: ignore[attr-defined]
    await page.fill("input[name=days_off]", "30/2/2017")  # type: ignore[attr-defined]
    await page.click("button:has-text('Lưu thay đổi')")  # type: ignore[attr-defined]
    await page.wait_for_selector("#problems")  # type: ignore[attr-defined]
    assert "“30/2/2017” không có thật" in await page.inner_text("#problems")  # type: ignore[attr-defined]
    await _fits(page)
    await page.fill("input[name=days_off]", "2/2/2017, 1/5/2017")  # type: ignore[attr-defined]
    await page.click("button:has-text('Lưu thay đổi')")  # type: ignore[attr-defined]
    await page.wait_for_url("**?changed=saved")  # type: ignore[attr-defined]
    assert "Kế hoạch sơ kết" in await page.inner_text("#deliverable-ke_hoach_2")  # type: ignore[attr-defined]
    async with db.read() as session:
        saved = await session.get(Campaign, new.id)
        assert saved is not None
        definition = definition_of(saved)
        added = await deliverables_of(session=session, campaign_id=new.id)
    assert [str(d) for d in definition.campaign.reminders.days_off] == ["2017-02-02", "2017-05-01"]
    plan, plan_form, plan_due = added[-1]
    assert (plan.key, plan.name_vi) == ("ke_hoach_2", "Kế hoạch sơ kết")
    assert [f.key for f in plan_form.fields] == ["heads", "heads_with_plan"]
    assert plan_due == {"tinh": date(2017, 4, 30), "huyen": date(2017, 5, 15)}
    # Closing asks first; going back changes nothing; agreeing closes it.
    await page.click("#status a:has-text('Đóng đợt')")  # type: ignore[attr-defined]
    await page.wait_for_selector("#confirm")  # type: ignore[attr-defined]
    await _fits(page)
    await page.click("#confirm a:has-text('Quay lại')")  # type: ignore[attr-defined]
    assert "Đang mở" in await page.inner_text("#status")  # type: ignore[attr-defined]
    await page.click("#status a:has-text('Đóng đợt')")  # type: ignore[attr-defined]
    await page.click("#confirm button:has-text('Đồng ý, đóng đợt')")  # type: ignore[attr-defined]
    await page.wait_for_url("**?changed=status")  # type: ignore[attr-defined]
    assert "Đã kết thúc" in await page.inner_text("#status")  # type: ignore[attr-defined]
    await page.goto(f"{site.base}/desk/campaigns")  # type: ignore[attr-defined]
    assert "Đã kết thúc" in await page.inner_text(card)  # type: ignore[attr-defined]
    async with db.read() as session:
        rows = dict(
            (await session.execute(select(col(Campaign.reference), col(Campaign.status)))).all()
        )
    assert rows == {"05-KH/TU": "closed", "13-KH/TU": "open"}
