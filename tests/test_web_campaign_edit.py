"""Editing a campaign through the desk's form (no YAML), on both engines: the page shows the
tree's levels and the stored values; saving changes the campaign in place (its reports keep
pointing at it); each bad input re-shows the form with a Vietnamese message and writes nothing;
a wrong CSRF token, an admin of another subtree and a supervisor are refused; closing goes
through a confirmation page."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from storage.campaigns import definition_of, load_campaign, parse_definition, template_text
from storage.db import Database
from storage.models import ROLE_ADMIN, AuditLog, Campaign, DeliverableDeadline, Report, Unit
from tests.factories import make_person, pk
from tests.report_fixtures import NOW
from tests.test_web_pages import client, web
from tests.web_fixtures import WebWorld, client_of, csrf_from, sign_in

__all__ = ["client", "web"]


class _Inputs(HTMLParser):
    """The edit form as a browser would post it: text values, ticked boxes, selected options
    (a select's first option when none is)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.inside = False
        self.select = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == "edit":
            self.inside = True
        if tag == "select" and self.inside:
            self.select = str(a["name"])
        first = self.select not in self.data
        if tag == "option" and self.select and (first or "selected" in a):
            self.data[self.select] = a.get("value") or ""
        if tag != "input" or not self.inside or not a.get("name"):
            return
        if a.get("type") == "checkbox" and "checked" not in a:
            return
        self.data[str(a["name"])] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        if tag == "select":
            self.select = ""


def form_of(html: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.data


async def _state(db: Database, campaign_id: int) -> tuple[Any, ...]:
    async with db.read() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        audits = (
            await session.execute(select(func.count()).where(col(AuditLog.entity) == "campaign"))
        ).scalar_one()
        return campaign.reference, campaign.name, campaign.definition, campaign.status, audits


async def test_editing_changes_the_campaign_in_place(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    shown = await client.get(url)
    assert shown.status_code == 200 and len(shown.content) < 200_000
    for level in ("Cấp tỉnh", "Cấp huyện", "Cấp cơ sở", "Chi bộ trực thuộc"):  # from the tree
        assert level in shown.text
    form = form_of(shown.text)
    assert form["due__hoi_nghi__tinh"] == "10/6/2016" and form["send_hour"] == "8"
    form.update(
        name="Học tập Nghị quyết Đại hội XII (sửa)",
        reference="13-KH/TU-2",
        due__hoi_nghi__co_so="15/9/2016",
        remind_before="5, 1",
        send_hour="9",
        quiet_start="22:00",
        quiet_end="06:00",
        review_required="on",
        group__0__label="Cấp tỉnh và huyện",
        group__2__label="Chi bộ",
        group__2__chi_bo="on",
    )
    del form["on__hoi_nghi__chi_bo"]  # the study session no longer applies to cells
    saved = await client.post(url, data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?changed=saved"
    async with web.db.read() as session:
        count = (await session.execute(select(func.count()).select_from(Campaign))).scalar_one()
        campaign = await session.get(Campaign, web.world.campaign_id)
        assert campaign is not None
        report = await session.get(Report, web.report_id)
        assert report is not None and report.deliverable_id == web.world.deliverables["hoi_nghi"]
        due = (
            await session.execute(
                select(col(DeliverableDeadline.due_date)).where(
                    col(DeliverableDeadline.deliverable_id) == report.deliverable_id,
                    col(DeliverableDeadline.level_code) == "co_so",
                )
            )
        ).scalar_one()
    assert count == 1 and campaign.reference == "13-KH/TU-2"
    assert campaign.name == "Học tập Nghị quyết Đại hội XII (sửa)"
    definition = definition_of(campaign)
    info = definition.campaign
    assert info.review_required and info.reminders.send_hour == 9
    assert info.reminders.offsets_days == [-5, -1]
    assert str(info.reminders.quiet_hours.start) == "22:00:00"
    groups = [(g.label_vi, g.levels) for g in info.reporting_groups]
    assert groups[0] == ("Cấp tỉnh và huyện", ["tinh", "huyen"])
    assert groups[2] == ("Chi bộ", ["chi_bo"])
    hoi_nghi = definition.deliverables[0]
    assert "chi_bo" not in hoi_nghi.deadlines and str(hoi_nghi.deadlines["co_so"]) == "2016-09-15"
    assert str(due) == "2016-09-15"
    again = await client.get(f"{url}?changed=saved")
    assert "Đã lưu thay đổi của đợt." in again.text


BAD = [
    ({"start_date": "31/2/2026"}, "start_date", "không có thật"),
    ({"due__hoi_nghi__tinh": "1/1/2016"}, "due__hoi_nghi__tinh", "sớm hơn ngày bắt đầu"),
    ({"group__0__label": ""}, "group__0__label", "Nhóm báo cáo 1: chưa nhập"),
    ({"name": "Đợt\x07 học tập"}, "name", "ký tự không hợp lệ"),
    ({"name": "x" * 10_000}, "name", "dài quá 200 ký tự"),
    ({"send_hour": "22"}, "send_hour", "giờ yên lặng"),
    ({"send_hour": "tám"}, "send_hour", "không phải là một số nguyên"),
    ({"quiet_end": "25:00"}, "quiet_end", "không hợp lệ"),
    ({"remind_before": "3, -1"}, "remind_before", "cách nhau bằng dấu phẩy"),
]


@pytest.mark.parametrize(("change", "field", "said"), BAD, ids=[b[1] for b in BAD])
async def test_a_bad_edit_says_what_is_wrong_and_writes_nothing(
    web: WebWorld, client: httpx.AsyncClient, change: dict[str, str], field: str, said: str
) -> None:
    await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    form = form_of((await client.get(url)).text)
    before = await _state(web.db, web.world.campaign_id)
    refused = await client.post(url, data={**form, **change})
    assert refused.status_code == 422
    assert said in refused.text and "chưa có gì thay đổi" in refused.text
    assert f'name="{field}"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "\x07" not in refused.text and len(refused.content) < 200_000
    assert await _state(web.db, web.world.campaign_id) == before


async def test_a_deliverable_needs_a_level_and_a_reference_stays_unique(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    async with web.db.write() as session:
        text = template_text().replace('reference: "13-KH/TU"', 'reference: "99-KH/TU"')
        await load_campaign(session=session, definition=parse_definition(text), now=NOW)
    await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    form = form_of((await client.get(url)).text)
    before = await _state(web.db, web.world.campaign_id)
    taken = await client.post(url, data={**form, "reference": "99-KH/TU"})
    assert taken.status_code == 422 and "đã có đợt khác mang số hiệu 99-KH/TU" in taken.text
    no_level = {k: v for k, v in form.items() if not k.startswith("on__hoi_nghi__")}
    refused = await client.post(url, data=no_level)
    assert refused.status_code == 422 and "chọn ít nhất một cấp phải báo cáo" in refused.text
    assert await _state(web.db, web.world.campaign_id) == before


async def test_a_wrong_csrf_another_subtree_and_a_supervisor_are_refused(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    async with web.db.write() as session:
        district = (await session.execute(select(Unit).where(col(Unit.code) == "H"))).scalar_one()
        cs2 = await session.get(Unit, web.world.other_unit_id)
        text = template_text().replace('reference: "13-KH/TU"', 'reference: "7-KH/HU"')
        text = text.replace(
            "  timezone: Asia/Ho_Chi_Minh", "  timezone: Asia/Ho_Chi_Minh\n  scope: H"
        )
        scoped = await load_campaign(session=session, definition=parse_definition(text), now=NOW)
        district_admin = await make_person(session, "Admin Huyện", roles=[(ROLE_ADMIN, district)])
        cell_admin = await make_person(session, "Admin Xã", roles=[(ROLE_ADMIN, cs2)])
    scoped_url = f"/desk/campaigns/{pk(scoped)}"
    await sign_in(client, web, web.admin_id)
    form = form_of((await client.get(scoped_url)).text)
    edited = {**form, "name": "Đợt của huyện"}
    before = await _state(web.db, pk(scoped))
    for csrf in ("", "0" * 64):
        assert (await client.post(scoped_url, data={**edited, "csrf": csrf})).status_code == 403
    assert await _state(web.db, pk(scoped)) == before
    for person in (pk(cell_admin), web.world.supervisor_id):
        async for other in client_of(web):
            csrf = await sign_in(other, web, person)
            assert (await other.get(scoped_url)).status_code == 404
            posted = await other.post(scoped_url, data={**edited, "csrf": csrf})
            assert posted.status_code == 404
            status = await other.post(
                f"{scoped_url}/status", data={"csrf": csrf, "status": "closed"}
            )
            assert status.status_code == 404
    assert await _state(web.db, pk(scoped)) == before
    async for mine in client_of(web):
        csrf = await sign_in(mine, web, pk(district_admin))
        whole = await mine.get(f"/desk/campaigns/{web.world.campaign_id}")
        assert whole.status_code == 404  # a whole-tree campaign is not a district's
        page = await mine.get(scoped_url)
        assert page.status_code == 200
        saved = await mine.post(scoped_url, data={**form_of(page.text), "name": "Đợt của huyện"})
        assert saved.status_code == 303
    assert (await _state(web.db, pk(scoped)))[1] == "Đợt của huyện"
    assert csrf_from(page.text)


async def test_closing_asks_first_and_the_list_says_the_status(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    listing = await client.get("/desk/campaigns")
    assert "Đang mở" in listing.text and f'href="{url}"' in listing.text
    confirm = await client.get(f"{url}/status?to=closed")
    assert confirm.status_code == 200 and "Đóng đợt 13-KH/TU?" in confirm.text
    assert (await _state(web.db, web.world.campaign_id))[3] == "open"  # asking changes nothing
    done = await client.post(f"{url}/status", data={"csrf": csrf, "status": "closed"})
    assert done.status_code == 303 and done.headers["location"] == f"{url}?changed=status"
    assert (await _state(web.db, web.world.campaign_id))[3] == "closed"
    listing = await client.get("/desk/campaigns")
    assert "Đã kết thúc" in listing.text and "Đang mở" not in listing.text
    reopen = await client.get(f"{url}/status?to=open")
    assert "Mở lại đợt 13-KH/TU?" in reopen.text
