"""The campaign form's fields beyond dates and deadlines, on both engines: adding a deliverable
of one of the template's kinds (its questions come with it), removing one (refused while it has
reports), days off, escalation, the digest's day and time, scope and time zone, and a reporting
group's English name. Each bad value is refused beside its field in Vietnamese and writes
nothing; a subtree admin cannot move the campaign outside their subtree. The saved campaign
downloads as the campaign file `cadrebot campaign load` reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.campaigns import definition_of, deliverables_of, load_campaign, parse_definition
from storage.campaigns import template_text as text_of_template
from storage.models import ROLE_ADMIN, Campaign, Person, Unit
from tests.factories import make_person, pk
from tests.report_fixtures import NOW
from tests.test_web_campaign_edit import _state, form_of
from tests.test_web_pages import client, web
from tests.web_fixtures import WebWorld, client_of, sign_in

__all__ = ["client", "web"]


async def _definition(web: WebWorld, campaign_id: int) -> Any:
    async with web.db.read() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return definition_of(campaign)


async def test_adding_a_deliverable_and_the_fields_yaml_only_had(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    shown = await client.get(url)
    form = form_of(shown.text)
    assert form["timezone"] == "Asia/Ho_Chi_Minh" and form["digest_weekday"] == "monday"
    assert form["digest_time"] == "07:30" and form["escalation_grace_days"] == "3"
    assert form["days_off"] == "" and form["kind__new-0"] == ""
    assert "để trống thì dùng tên tiếng Việt" in shown.text  # an empty English name, said
    offered = shown.text.split('<datalist id="scope-units">')[1].split("</datalist>")[0]
    assert offered == '<option value="T">Tỉnh ủy</option><option value="H">Đơn vị H</option>'
    for kind in ("Hội nghị học tập, quán triệt Nghị quyết", "Chương trình hành động"):
        assert kind in shown.text
    form.update(
        {
            "kind__new-0": "ke_hoach",
            "name__new-0": "Kế hoạch sơ kết của người đứng đầu",
            "on__new-0__tinh": "on",
            "due__new-0__tinh": "15/10/2016",
            "on__new-0__huyen": "on",
            "due__new-0__huyen": "2016-10-20",
            "days_off": "2/9/2016, 5/9/2016 2/9/2016",
            "escalation_grace_days": "5",
            "escalation_up_days": "10",
            "digest_weekday": "friday",
            "digest_time": "16:45",
            "timezone": "Asia/Bangkok",
            "scope": "H",
            "group__2__label": "Chi bộ",
            "group__2__chi_bo": "on",
            "group__0__label_en": "Province and district",
        }
    )
    saved = await client.post(url, data=form)
    assert saved.status_code == 303, saved.text
    definition = await _definition(web, web.world.campaign_id)
    info = definition.campaign
    assert [str(d) for d in info.reminders.days_off] == ["2016-09-02", "2016-09-05"]
    assert (info.reminders.escalation_grace_days, info.reminders.escalation_up_days) == (5, 10)
    assert info.digest.weekday == "friday" and str(info.digest.time) == "16:45:00"
    assert info.timezone == "Asia/Bangkok" and info.scope == "H"
    labels = [(g.label_vi, g.label_en) for g in info.reporting_groups]
    assert labels[0] == ("cấp tỉnh và cấp huyện", "Province and district")
    assert labels[2] == ("Chi bộ", "Chi bộ")  # no English name typed: the Vietnamese one
    async with web.db.read() as session:
        campaign = await session.get(Campaign, web.world.campaign_id)
        assert campaign is not None and campaign.timezone == "Asia/Bangkok"
        scope = await session.get(Unit, campaign.scope_unit_id)
        assert scope is not None and scope.code == "H"
        stored = await deliverables_of(session=session, campaign_id=web.world.campaign_id)
    added, form_added, deadlines = stored[-1]
    template_plan = next(d for d in definition.deliverables if d.key == "ke_hoach")
    assert added.key == "ke_hoach_2" and added.name_vi == "Kế hoạch sơ kết của người đứng đầu"
    assert added.name_en == template_plan.name_en  # empty: the kind's English name
    assert [f.key for f in form_added.fields] == [f.key for f in template_plan.fields]
    assert {k: str(v) for k, v in deadlines.items()} == {
        "tinh": "2016-10-15",
        "huyen": "2016-10-20",
    }
    again = form_of((await client.get(url)).text)
    assert again["days_off"] == "2/9/2016, 5/9/2016" and again["due__ke_hoach_2__tinh"]
    assert again["kind__new-0"] == ""  # a fresh row to add another one
    exported = await client.get(f"{url}/campaign.yaml")  # the file `campaign load` reads
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="dot-13-KH-TU.yaml"'
    assert parse_definition(exported.text).model_dump() == definition.model_dump()


async def test_removing_a_deliverable_only_while_it_has_no_reports(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    form = form_of((await client.get(url)).text)
    before = await _state(web.db, web.world.campaign_id)
    refused = await client.post(url, data={**form, "drop__hoi_nghi": "on"})
    assert refused.status_code == 422
    said = "“Hội nghị học tập, quán triệt Nghị quyết” đã có báo cáo nên không thể bỏ khỏi đợt"
    assert said in refused.text and "chưa có gì thay đổi" in refused.text
    assert await _state(web.db, web.world.campaign_id) == before
    removed = await client.post(url, data={**form, "drop__chuong_trinh": "on"})
    assert removed.status_code == 303
    keys = [d.key for d in (await _definition(web, web.world.campaign_id)).deliverables]
    assert keys == ["hoi_nghi", "ke_hoach"]
    assert 'name="drop__chuong_trinh"' not in (await client.get(url)).text


BAD = [
    ({"days_off": "2/9/2016, 31/2/2016"}, "days_off", "ngày “31/2/2016” không có thật"),
    ({"days_off": "30/4/2016"}, "days_off", "sớm hơn ngày bắt đầu đợt"),
    ({"days_off": "2/9/2016, " * 130}, "days_off", "dài quá 1.200 ký tự"),
    ({"end_date": "31/12/2016", "days_off": "2/1/2017"}, "days_off", "muộn hơn ngày kết thúc"),
    ({"start_date": "1/5/0001"}, "start_date", "năm phải từ 2000 đến 2100"),
    ({"due__hoi_nghi__tinh": "31/12/9999"}, "due__hoi_nghi__tinh", "năm phải từ 2000 đến 2100"),
    ({"digest_time": "7 giờ"}, "digest_time", "không hợp lệ"),
    ({"digest_weekday": "someday"}, "digest_weekday", "không có trong danh sách"),
    ({"timezone": "Mars/Olympus"}, "timezone", "không có trong danh sách"),
    ({"scope": "KHONG_CO"}, "scope", "không có đơn vị mã “KHONG_CO”"),
    ({"escalation_grace_days": "ba"}, "escalation_grace_days", "không phải là một số nguyên"),
    ({"escalation_up_days": "0"}, "escalation_up_days", "phải lớn hơn hoặc bằng 1"),
    ({"kind__new-0": "ke_hoach", "on__new-0__tinh": "on"}, "name__new-0", "tên: chưa nhập"),
    ({"name__new-0": "Sơ kết"}, "kind__new-0", "chọn loại nội dung"),
    ({"kind__new-0": "ke_hoach", "name__new-0": "Sơ kết"}, "deliverable__new-0", "chọn ít nhất"),
    ({"kind__new-0": "bi_mat", "name__new-0": "X"}, "kind__new-0", "không có trong danh sách"),
    (
        {"kind__new-0": "ke_hoach", "name__new-0": "X", "on__new-0__tinh": "on"}
        | {"due__new-0__tinh": "1/1/2016"},
        "due__new-0__tinh",
        "sớm hơn ngày bắt đầu đợt",
    ),
]


@pytest.mark.parametrize(("change", "field", "said"), BAD, ids=[b[1] for b in BAD])
async def test_a_bad_value_is_refused_beside_its_field(
    web: WebWorld, client: httpx.AsyncClient, change: dict[str, str], field: str, said: str
) -> None:
    await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    form = form_of((await client.get(url)).text)
    before = await _state(web.db, web.world.campaign_id)
    refused = await client.post(url, data={**form, **change})
    assert refused.status_code == 422
    assert said in refused.text and "chưa có gì thay đổi" in refused.text
    if field.startswith("deliverable__"):  # the whole row: said at the top of its fieldset
        row = refused.text.split(f'id="deliverable-{field.split("__")[1]}"')[1]
        assert said in row.split("</legend>")[1].split("<label")[0]
    else:
        assert f'name="{field}"' in refused.text and 'aria-invalid="true"' in refused.text
    assert await _state(web.db, web.world.campaign_id) == before


async def test_a_subtree_admin_keeps_the_campaign_inside_their_subtree(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    async with web.db.write() as session:
        district = (await session.execute(select(Unit).where(col(Unit.code) == "H"))).scalar_one()
        text = text_of_template().replace('reference: "13-KH/TU"', 'reference: "7-KH/HU"')
        text = text.replace(
            "  timezone: Asia/Ho_Chi_Minh", "  timezone: Asia/Ho_Chi_Minh\n  scope: H"
        )
        scoped = await load_campaign(session=session, definition=parse_definition(text), now=NOW)
        district_admin = await make_person(session, "Admin Huyện", roles=[(ROLE_ADMIN, district)])
    url = f"/desk/campaigns/{pk(scoped)}"
    async for mine in client_of(web):
        await sign_in(mine, web, pk(district_admin))
        shown = (await mine.get(url)).text
        form = form_of(shown)
        assert '<option value="H">' in shown and '<option value="T">' not in shown
        before = await _state(web.db, pk(scoped))
        for scope, said in (
            ("T", "đơn vị “T” không thuộc phạm vi đồng chí quản lý"),
            ("", "chỉ quản trị viên toàn tỉnh mới để đợt cho mọi đơn vị"),
        ):
            refused = await mine.post(url, data={**form, "scope": scope})
            assert refused.status_code == 422 and said in refused.text
            assert await _state(web.db, pk(scoped)) == before
        narrower = await mine.post(url, data={**form, "scope": "CS1"})
        assert narrower.status_code == 303
        assert (await mine.get(f"{url}/campaign.yaml")).status_code == 200
        whole = f"/desk/campaigns/{web.world.campaign_id}/campaign.yaml"
        assert (await mine.get(whole)).status_code == 404  # not a district's campaign
    assert (await _definition(web, pk(scoped))).campaign.scope == "CS1"


async def test_the_new_campaign_form_takes_dates_as_a_cadre_writes_them(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    from bot.web.campaign_form import blank_values

    csrf = await sign_in(client, web, web.admin_id)
    data = {name: "31/3/2017" for name in blank_values() if name.startswith("due__")}
    data.update(csrf=csrf, name="Học tập Nghị quyết Trung ương 4", reference="05-KH/TU")
    data.update(resolution="Nghị quyết Trung ương 4 khóa XII", start_date="5/1/2017")
    created = await client.post("/desk/campaigns/new", data=data)
    assert created.status_code == 303, created.text
    async with web.db.read() as session:
        new = (
            await session.execute(select(Campaign).where(col(Campaign.reference) == "05-KH/TU"))
        ).scalar_one()
    assert str(new.start_date) == "2017-01-05"
    stored = await _definition(web, pk(new))
    assert {str(d) for item in stored.deliverables for d in item.deadlines.values()} == {
        "2017-03-31"
    }


async def test_a_bad_deadline_is_named_by_its_deliverable_and_level_as_a_cadre_reads_them(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    from bot.web.campaign_form import blank_values

    csrf = await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}"
    form = form_of((await client.get(url)).text)
    edited = await client.post(url, data={**form, "due__hoi_nghi__tinh": "31/9/2016"})
    named = "hạn “Hội nghị học tập, quán triệt Nghị quyết” của cấp tỉnh: ngày “31/9/2016”"
    assert edited.status_code == 422 and named in edited.text
    data = {name: "31/3/2017" for name in blank_values() if name.startswith("due__")}
    data.update(csrf=csrf, name="Học tập Nghị quyết Trung ương 4", reference="05-KH/TU")
    data.update(resolution="Nghị quyết Trung ương 4", start_date="5/1/2017")
    created = await client.post("/desk/campaigns/new", data={**data, "due__hoi_nghi__tinh": "x"})
    assert created.status_code == 422
    assert "hạn “Hội nghị học tập, quán triệt Nghị quyết” của cấp tỉnh" in created.text
    for page in (edited.text, created.text):
        assert "cấp Cấp" not in page and "cấp tinh" not in page


async def test_an_english_reader_of_the_new_campaign_form_gets_the_english_deliverable_name(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    from bot.web.campaign_form import blank_values

    async with web.db.write() as session:
        admin = await session.get(Person, web.admin_id)
        assert admin is not None
        admin.language = "en"
    csrf = await sign_in(client, web, web.admin_id)
    data = {name: "31/3/2017" for name in blank_values() if name.startswith("due__")}
    data.update(csrf=csrf, name="Resolution 4", reference="05-KH/TU", resolution="Resolution 4")
    data.update(start_date="5/1/2017", due__hoi_nghi__tinh="x")
    created = await client.post("/desk/campaigns/new", data=data)
    assert created.status_code == 422
    assert "the deadline of “Resolution study session” for province." in created.text


async def test_the_new_campaign_form_refuses_a_date_with_a_control_character(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    from bot.web.campaign_form import blank_values

    csrf = await sign_in(client, web, web.admin_id)
    data = {name: "31/3/2017" for name in blank_values() if name.startswith("due__")}
    data.update(csrf=csrf, name="Học tập Nghị quyết Trung ương 4", reference="05-KH/TU")
    data.update(resolution="Nghị quyết Trung ương 4", start_date="5/1/2017\x07")
    refused = await client.post("/desk/campaigns/new", data=data)
    assert refused.status_code == 422
    assert "Ngày không hợp lệ: Ngày bắt đầu." in refused.text
    async with web.db.read() as session:
        found = await session.execute(select(Campaign).where(col(Campaign.reference) == "05-KH/TU"))
        assert found.first() is None
