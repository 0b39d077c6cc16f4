"""Assigning a supervisor in the unit tree in a real headless browser (the Chromium and server
of tests/test_web_browser.py): the admin picks a person, unfolds the district, ticks two units,
saves, and sees them ticked and stored. SQLite only, like the other browser tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from storage.models import ROLE_SUPERVISOR, Role, Unit
from tests.test_web_browser import CHROMIUM, Site, _sign_in, pytestmark, site

__all__ = ["CHROMIUM", "pytestmark", "site"]


async def test_tick_two_units_and_see_them_assigned(site: Site) -> None:
    web = site.web
    world = web.world
    async with web.db.read() as session:
        district = (await session.execute(select(Unit).where(col(Unit.code) == "H"))).scalar_one()
    page = await _sign_in(site, web.admin_id)
    await page.goto(f"{site.base}/desk")  # type: ignore[attr-defined]
    await page.click("a[href='/desk/assign']")  # type: ignore[attr-defined]
    await page.fill("input[name=who]", "0912 345 678")  # type: ignore[attr-defined]
    await page.click("form[method=get] button")  # type: ignore[attr-defined]
    await page.wait_for_url("**/desk/assign?who=*")  # type: ignore[attr-defined]
    assert "Nguyễn Văn A" in await page.inner_text("#units h2")  # type: ignore[attr-defined]
    cs1 = page.locator(f"input[name=unit][value='{world.unit_id}']")  # type: ignore[attr-defined]
    assert not await cs1.is_visible()  # the district is folded
    await page.click(f"summary:has(input[value='{district.id}']) .name")  # type: ignore[attr-defined]
    await cs1.check()
    await page.check(f"input[name=unit][value='{world.other_unit_id}']")  # type: ignore[attr-defined]
    await page.click("#units button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_url("**saved=2-0")  # type: ignore[attr-defined]
    status = await page.inner_text("#units [role=status]")  # type: ignore[attr-defined]
    assert "Đã lưu: giao thêm 2 đơn vị, thôi theo dõi 0 đơn vị." in status
    assert await page.is_checked(f"input[name=unit][value='{world.unit_id}']")  # type: ignore[attr-defined]
    async with web.db.read() as session:
        rows = await session.execute(
            select(col(Role.unit_id)).where(
                col(Role.person_id) == world.reporter_id, col(Role.kind) == ROLE_SUPERVISOR
            )
        )
        assert set(rows.scalars()) == {world.unit_id, world.other_unit_id}
    width = await page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 360  # the page fits the phone
