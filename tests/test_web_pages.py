"""The web console over HTTP (no browser): link rules, the session cookie, scope on every page and
download, CSRF on every state-changing form, uploads that write all or nothing, the Mini App."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.web.miniapp import sign
from storage.db import Database
from storage.models import Campaign, Unit
from storage.web_auth import FAILURES_PER_WINDOW
from tests.report_fixtures import NOW
from tests.web_fixtures import (
    BOT_TOKEN,
    SUPERVISOR_TELEGRAM_ID,
    WebWorld,
    build_web_world,
    client_of,
    csrf_from,
    link_for,
    sign_in,
    token_of,
)

NEW_LINK = "gửi /web cho bot để nhận đường dẫn mới"


@pytest.fixture
async def web(db: Database) -> WebWorld:
    return await build_web_world(db)


@pytest.fixture
async def client(web: WebWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_of(web):
        yield c


async def test_link_page_does_not_use_the_link_and_the_post_signs_in(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    token = token_of(await link_for(web, web.world.supervisor_id))
    page = await client.get(f"/w/{token}")  # what a chat app's link preview fetches
    assert page.status_code == 200 and 'action="/w"' in page.text
    response = await client.post("/w", data={"token": token})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    assert "secure" not in cookie  # http:// public URL (a local test)
    home = await client.get("/")
    assert home.status_code == 200
    assert "Phạm Văn E" in home.text and "Đơn vị H" in home.text


async def test_reused_expired_and_forged_links_say_what_to_do(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    token = token_of(await link_for(web, web.world.supervisor_id))
    assert (await client.post("/w", data={"token": token})).status_code == 303
    client.cookies.clear()
    reused = await client.post("/w", data={"token": token})
    assert reused.status_code == 410
    assert "đã được sử dụng" in reused.text and NEW_LINK in reused.text
    forged = await client.post("/w", data={"token": token[:-3] + "abc"})
    assert forged.status_code == 404 and NEW_LINK in forged.text
    assert "set-cookie" not in forged.headers
    assert (await client.get("/")).status_code == 401


async def test_expired_link(web: WebWorld) -> None:
    token = token_of(await link_for(web, web.world.supervisor_id))
    from datetime import timedelta

    from bot.web.app import build_app

    later = build_app(web.db, web.settings, clock=lambda: NOW + timedelta(minutes=11))
    transport = httpx.ASGITransport(app=later)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/w", data={"token": token})
    assert response.status_code == 410
    assert "hết hạn" in response.text and NEW_LINK in response.text


async def test_secure_cookie_behind_https(web: WebWorld) -> None:
    from bot.web.app import build_app
    from storage.settings import load_settings

    settings = load_settings(web_url="https://baocao.example.vn", telegram_token=BOT_TOKEN)
    app = build_app(web.db, settings, clock=lambda: NOW)
    token = token_of(await link_for(web, web.world.supervisor_id))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.post("/w", data={"token": token})
    assert "secure" in response.headers["set-cookie"].lower()


async def test_failed_attempts_throttle_even_a_good_link(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    for attempt in range(FAILURES_PER_WINDOW):
        assert (await client.post("/w", data={"token": f"bad{attempt}"})).status_code == 404
    token = token_of(await link_for(web, web.world.supervisor_id))
    refused = await client.post("/w", data={"token": token})
    assert refused.status_code == 429 and "15 phút" in refused.text


async def test_scope_on_unit_pages_and_downloads(web: WebWorld, client: httpx.AsyncClient) -> None:
    world = web.world
    await sign_in(client, web, web.other_supervisor_id)  # follows CS2 only
    own = await client.get(f"/unit/{world.other_unit_id}")
    assert own.status_code == 200 and "Đảng bộ xã Tây" in own.text
    for url in (
        f"/unit/{world.unit_id}",
        f"/unit/{world.province_id}",
        "/unit/999999",
        f"/export?unit={world.unit_id}",
        f"/export?c={world.campaign_id}&unit={world.province_id}",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "Đảng bộ xã Đông" not in response.text
    download = await client.get(f"/export?c={world.campaign_id}&unit={world.other_unit_id}")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert download.content[:2] == b"PK"
    # The one unit they follow is their default download.
    assert (await client.get(f"/export?c={world.campaign_id}")).status_code == 200
    home = await client.get("/")
    assert "Đảng bộ xã Tây" in home.text and "Đảng bộ xã Đông" not in home.text
    assert "<th>Hội nghị học tập, quán triệt Nghị quyết</th>" in home.text


async def test_reporter_sees_only_their_unit_and_cannot_download(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    world = web.world
    await sign_in(client, web, world.reporter_id)
    assert (await client.get(f"/unit/{world.unit_id}")).status_code == 200
    assert (await client.get(f"/unit/{world.other_unit_id}")).status_code == 404
    assert (await client.get(f"/export?unit={world.unit_id}")).status_code == 404
    assert (await client.get("/desk")).status_code == 404


async def test_no_role_learns_nothing(web: WebWorld, client: httpx.AsyncClient) -> None:
    token = token_of(await link_for(web, web.world.stranger_id))
    assert (await client.post("/w", data={"token": token})).status_code == 303
    for url in ("/", f"/unit/{web.world.unit_id}", "/late", "/export"):
        response = await client.get(url)
        assert response.status_code in (403, 404), url
        assert "Đảng bộ xã" not in response.text


async def test_unit_page_versions_and_late_list(web: WebWorld, client: httpx.AsyncClient) -> None:
    world = web.world
    await sign_in(client, web, world.supervisor_id)
    page = await client.get(f"/unit/{world.unit_id}")
    assert page.status_code == 200
    assert "Lần 1" in page.text and "Lần 2" in page.text
    assert "<s>20</s> → 24" in page.text  # the essays corrected in version 2
    district = await client.get(f"/unit/{world.unit_id - 1}")
    assert "Đảng bộ xã Đông" in district.text and "Đảng bộ xã Tây" in district.text
    assert "So với tuần trước" not in page.text and "week=1" in page.text
    week = await client.get(f"/unit/{world.unit_id - 1}?week=1")
    assert "So với tuần trước: thêm" in week.text
    late = await client.get("/late")
    assert "Đảng bộ xã Tây" in late.text and "Đảng bộ xã Đông" not in late.text
    assert 'href="tel:0987654321"' in late.text and "Trần Văn D" in late.text


async def test_state_changing_forms_refuse_a_missing_or_wrong_csrf(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, web, web.admin_id)
    url = f"/desk/campaigns/{web.world.campaign_id}/status"
    for data in ({"status": "closed"}, {"status": "closed", "csrf": "0" * 64}):
        refused = await client.post(url, data=data)
        assert refused.status_code == 403 and "Biểu mẫu" in refused.text
    logout = await client.post("/logout", data={})
    assert logout.status_code == 403
    nudge = await client.post(f"/unit/{web.world.other_unit_id}/nudge", data={})
    assert nudge.status_code == 403
    upload = await client.post(
        "/desk/upload/units", files={"file": ("u.csv", b"code,name\n")}, data={}
    )
    assert upload.status_code == 403
    async with web.db.read() as session:
        campaign = await session.get(Campaign, web.world.campaign_id)
        assert campaign is not None and campaign.status == "open"
    done = await client.post(url, data={"status": "closed", "csrf": csrf})
    assert done.status_code == 303
    async with web.db.read() as session:
        campaign = await session.get(Campaign, web.world.campaign_id)
        assert campaign is not None and campaign.status == "closed"
    # Another session's token does not work either.
    async for other in client_of(web):
        await sign_in(other, web, web.admin_id)
        stolen = await other.post(url, data={"status": "open", "csrf": csrf})
        assert stolen.status_code == 403


async def test_only_managers_change_campaigns(web: WebWorld, client: httpx.AsyncClient) -> None:
    await sign_in(client, web, web.world.supervisor_id)
    page = await client.get("/")
    response = await client.post(
        f"/desk/campaigns/{web.world.campaign_id}/status",
        data={"status": "closed", "csrf": csrf_from(page.text)},
    )
    assert response.status_code == 404


async def _units(db: Database) -> list[tuple[str, str]]:
    async with db.read() as session:
        rows = await session.execute(select(col(Unit.code), col(Unit.name)).order_by(col(Unit.id)))
        return [(code, name) for code, name in rows.all()]


async def test_upload_spoiled_then_good_units(web: WebWorld, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, web, web.admin_id)
    before = await _units(web.db)
    spoiled = (
        "code,name,level,parent_code,members\n"
        "X1,Xã Bắc,co_so,H,40\n"
        "X2,Xã Nam,co_so,NOPE,12\n"
        "X3,Xã Trung,co_so,H,mười\n"
    ).encode()
    response = await client.post(
        "/desk/upload/units", data={"csrf": csrf}, files={"file": ("units.csv", spoiled)}
    )
    assert response.status_code == 422
    assert "chưa có gì được ghi" in response.text
    assert "<td>3</td>" in response.text and "<td>4</td>" in response.text
    assert await _units(web.db) == before
    good = "code,name,level,parent_code,members\nX1,Xã Bắc,co_so,H,40\n".encode()
    response = await client.post(
        "/desk/upload/units", data={"csrf": csrf}, files={"file": ("units.csv", good)}
    )
    assert response.status_code == 200 and "Đã ghi nhận" in response.text
    assert ("X1", "Xã Bắc") in await _units(web.db)


async def test_upload_limits(web: WebWorld, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, web, web.admin_id)
    big = b"x" * (10 * 1024 * 1024 + 1)
    response = await client.post(
        "/desk/upload/people", data={"csrf": csrf}, files={"file": ("p.csv", big)}
    )
    assert response.status_code == 413 and "10 MB" in response.text
    wrong = await client.post(
        "/desk/upload/people", data={"csrf": csrf}, files={"file": ("p.txt", b"a")}
    )
    assert wrong.status_code == 400


async def test_upload_people_errors_by_line(web: WebWorld, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, web, web.admin_id)
    body = "name,phone,role,units\nNguyễn Mới,0901000001,reporter,NOPE\n".encode()
    response = await client.post(
        "/desk/upload/people", data={"csrf": csrf}, files={"file": ("p.csv", body)}
    )
    assert response.status_code == 422 and "<td>2</td>" in response.text
    async with web.db.read() as session:
        from storage.models import Person

        count = (
            await session.execute(select(func.count()).where(col(Person.full_name) == "Nguyễn Mới"))
        ).scalar_one()
    assert count == 0


async def test_desk_is_for_admins_and_counts_who_joined(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, web.admin_id)
    joined = await client.get("/desk/joined")
    # Four units; only CS1 has a reporter connected on a chat channel (Zalo).
    assert "1/4 đơn vị" in joined.text
    assert "Đảng bộ xã Tây" in joined.text and "Tỉnh ủy" in joined.text


def _init_data(user_id: int, token: str = BOT_TOKEN) -> str:
    fields = {
        "auth_date": str(int(NOW.timestamp()) - 30),
        "user": json.dumps({"id": user_id, "first_name": "E"}),
    }
    fields["hash"] = sign(fields, token)
    return urlencode(fields)


async def test_mini_app(web: WebWorld, client: httpx.AsyncClient) -> None:
    forged = await client.post("/tg", data={"init_data": _init_data(SUPERVISOR_TELEGRAM_ID, "1:x")})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    unknown = await client.post("/tg", data={"init_data": _init_data(5)})
    assert unknown.status_code == 403 and "mã mời" in unknown.text
    genuine = await client.post("/tg", data={"init_data": _init_data(SUPERVISOR_TELEGRAM_ID)})
    assert genuine.status_code == 303
    home = await client.get("/")
    assert "Phạm Văn E" in home.text


async def test_pages_stay_light(web: WebWorld, client: httpx.AsyncClient) -> None:
    await sign_in(client, web, web.admin_id)
    for url in ("/", f"/unit/{web.world.unit_id}", "/late", "/desk", "/desk/campaigns"):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) < 200_000, url


def _campaign_form(csrf: str, reference: str) -> dict[str, str]:
    from bot.web.campaign_form import blank_values

    values = {name: "2017-03-31" for name in blank_values() if name.startswith("due__")}
    return {
        **values,
        "csrf": csrf,
        "name": "Học tập Nghị quyết Trung ương 4",
        "reference": reference,
        "resolution": "Nghị quyết Trung ương 4 khóa XII",
        "start_date": "2017-01-05",
    }


async def test_create_a_campaign_from_the_form(web: WebWorld, client: httpx.AsyncClient) -> None:
    from storage.models import Deliverable, DeliverableDeadline

    csrf = await sign_in(client, web, web.admin_id)
    assert (await client.get("/desk/campaigns/new")).status_code == 200

    async def campaigns() -> int:
        async with web.db.read() as session:
            return int(
                (await session.execute(select(func.count()).select_from(Campaign))).scalar_one()
            )

    no_token = _campaign_form("", "05-KH/TU")
    assert (await client.post("/desk/campaigns/new", data=no_token)).status_code == 403
    bad = {**_campaign_form(csrf, "05-KH/TU"), "start_date": "31/02/2017", "name": " "}
    refused = await client.post("/desk/campaigns/new", data=bad)
    assert refused.status_code == 422
    assert "Chưa nhập Tên đợt" in refused.text and "Ngày không hợp lệ" in refused.text
    late_start = {**_campaign_form(csrf, "05-KH/TU"), "start_date": "2017-06-01"}
    refused = await client.post("/desk/campaigns/new", data=late_start)
    assert refused.status_code == 422 and "chưa có gì được ghi" in refused.text
    assert await campaigns() == 1
    created = await client.post("/desk/campaigns/new", data=_campaign_form(csrf, "05-KH/TU"))
    assert created.status_code == 303
    assert await campaigns() == 2
    async with web.db.read() as session:
        new = (
            await session.execute(select(Campaign).where(col(Campaign.reference) == "05-KH/TU"))
        ).scalar_one()
        dues = (
            (
                await session.execute(
                    select(col(DeliverableDeadline.due_date))
                    .join(
                        Deliverable, col(Deliverable.id) == col(DeliverableDeadline.deliverable_id)
                    )
                    .where(col(Deliverable.campaign_id) == new.id)
                )
            )
            .scalars()
            .all()
        )
    assert new.name == "Học tập Nghị quyết Trung ương 4" and new.status == "open"
    assert dues and {str(d) for d in dues} == {"2017-03-31"}
    again = await client.post("/desk/campaigns/new", data=_campaign_form(csrf, "05-KH/TU"))
    assert again.status_code == 422 and "Đã có đợt" in again.text
    assert await campaigns() == 2


async def test_invite_sheet_for_the_units_an_admin_manages(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    from storage.models import Invite

    async def invites() -> list[tuple[int | None, int | None]]:
        async with web.db.read() as session:
            rows = await session.execute(select(col(Invite.unit_id), col(Invite.person_id)))
            return sorted(rows.all(), key=str)

    csrf = await sign_in(client, web, web.admin_id)
    assert (await client.get("/desk/invites")).status_code == 200
    form = {"role": "reporter", "level": "co_so", "under": "", "csrf": csrf}
    assert (await client.post("/desk/invites", data={**form, "csrf": ""})).status_code == 403
    unknown = await client.post("/desk/invites", data={**form, "under": "KHONGCO"})
    assert unknown.status_code == 422 and "chưa tạo mã nào" in unknown.text
    assert await invites() == []
    sheet = await client.post("/desk/invites", data=form)
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    assert "attachment" in sheet.headers["content-disposition"]
    world = web.world
    # CS1: its two reporters who have not joined (the third joined on Zalo); CS2: its one.
    assert await invites() == sorted(
        [
            (world.unit_id, world.colleague_id),
            (world.unit_id, world.double_id),
            (world.other_unit_id, world.double_id),
        ],
        key=str,
    )
    # A supervisor is not at the desk.
    async for other in client_of(web):
        await sign_in(other, web, web.other_supervisor_id)
        assert (await other.get("/desk/invites")).status_code == 404


async def test_assign_a_supervisor_from_the_unit_page(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    from storage.models import Role

    world = web.world

    async def followers() -> list[int]:
        async with web.db.read() as session:
            rows = await session.execute(
                select(col(Role.person_id)).where(
                    col(Role.kind) == "supervisor", col(Role.unit_id) == world.unit_id
                )
            )
            return sorted(rows.scalars())

    csrf = await sign_in(client, web, web.admin_id)
    page = await client.get(f"/unit/{world.unit_id}")
    assert "Người theo dõi đơn vị" in page.text
    url = f"/unit/{world.unit_id}/assign"
    person = str(web.other_supervisor_id)
    assert (await client.post(url, data={"person": person})).status_code == 403
    nobody = await client.post(url, data={"person": "0999999999", "csrf": csrf})
    assert nobody.headers["location"].endswith("assign=no_person#assign")
    added = await client.post(url, data={"person": person, "csrf": csrf})
    assert added.status_code == 303 and await followers() == [web.other_supervisor_id]
    page = await client.get(added.headers["location"])
    assert "Đã phân công" in page.text and "Vũ Văn Theo" in page.text
    # By phone number too (the reporter's, in the Vietnamese habit with spaces).
    await client.post(url, data={"person": "0912 345 678", "csrf": csrf})
    assert await followers() == sorted([web.other_supervisor_id, world.reporter_id])
    await client.post(url, data={"remove": person, "csrf": csrf})
    assert await followers() == [world.reporter_id]
    # A supervisor cannot assign, not even on a unit they follow.
    async for other in client_of(web):
        other_csrf = await sign_in(other, web, world.supervisor_id)
        refused = await other.post(url, data={"person": person, "csrf": other_csrf})
        assert refused.status_code == 404
        assert "Người theo dõi đơn vị" not in (await other.get(f"/unit/{world.unit_id}")).text
    assert await followers() == [world.reporter_id]


async def test_the_digest_chart_for_those_who_get_a_digest(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, web.world.supervisor_id)
    assert 'src="/chart.png"' in (await client.get("/")).text
    image = await client.get("/chart.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content[:4] == b"\x89PNG"
    async for other in client_of(web):
        await sign_in(other, web, web.world.reporter_id)
        assert (await other.get("/chart.png")).status_code == 404
