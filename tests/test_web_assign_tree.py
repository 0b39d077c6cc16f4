"""The desk's page for assigning supervisors by ticking units in the tree (#16.3): the whole-tree
admin adds and removes in one save; an admin of one district sees and changes only their
subtree, only for people whose roles stay inside it; a forged unit id outside it, a missing CSRF
token or a person out of reach change nothing. Both engines (the `db` fixture)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.web import assign_tree
from storage.audit import AuditLog
from storage.db import Database
from storage.models import ROLE_ADMIN, ROLE_SUPERVISOR, Role, Unit
from tests.factories import make_person, make_unit, pk
from tests.web_fixtures import WebWorld, build_web_world, client_of, sign_in


@dataclass
class Tree:
    web: WebWorld
    district_id: int
    far_unit_id: int  # CS3, in another district
    district_admin_id: int  # admin of district H only
    far_supervisor_id: int  # follows CS2 (inside H) and CS3 (outside)


@pytest.fixture
async def tree(db: Database) -> Tree:
    web = await build_web_world(db)
    async with db.write() as session:
        province = await session.get(Unit, web.world.province_id)
        cs2 = await session.get(Unit, web.world.other_unit_id)
        assert province is not None and cs2 is not None
        district = (await session.execute(select(Unit).where(col(Unit.code) == "H"))).scalar_one()
        other_district = await make_unit(session, "H2", parent=province, level="huyen")
        far = await make_unit(session, "CS3", parent=other_district, name="Đảng bộ xã Xa")
        admin = await make_person(session, "Đỗ Quang Huyện", roles=[(ROLE_ADMIN, district)])
        wide = await make_person(
            session, "Lý Văn Rộng", roles=[(ROLE_SUPERVISOR, cs2), (ROLE_SUPERVISOR, far)]
        )
        return Tree(web, pk(district), pk(far), pk(admin), pk(wide))


@pytest.fixture
async def client(tree: Tree) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_of(tree.web):
        yield c


async def followed(web: WebWorld, person_id: int) -> set[int]:
    async with web.db.read() as session:
        rows = await session.execute(
            select(col(Role.unit_id)).where(
                col(Role.person_id) == person_id, col(Role.kind) == ROLE_SUPERVISOR
            )
        )
        return {int(u) for u in rows.scalars() if u is not None}


async def audits(web: WebWorld) -> int:
    async with web.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(AuditLog))).scalar_one())


def shown_of(html: str) -> str:
    match = re.search(r'name="shown" value="([0-9,]*)"', html)
    assert match is not None, html[:800]
    return match[1]


async def save(
    client: httpx.AsyncClient, csrf: str, person: int, shown: str, units: list[int]
) -> httpx.Response:
    data = {"csrf": csrf, "person": str(person), "shown": shown, "unit": [str(u) for u in units]}
    return await client.post("/desk/assign", data=data)


def ticked_of(html: str) -> set[int]:
    return {int(v) for v in re.findall(r'name="unit" value="(\d+)" checked', html)}


async def test_whole_tree_admin_adds_and_removes_in_one_save(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    web, world = tree.web, tree.web.world
    person = web.other_supervisor_id  # follows CS2
    csrf = await sign_in(client, web, web.admin_id)
    assert "/desk/assign" in (await client.get("/desk")).text
    page = await client.get(f"/desk/assign?who={person}")
    assert page.status_code == 200
    assert "Các đơn vị đồng chí Vũ Văn Theo theo dõi" in page.text
    assert "Tỉnh ủy" in page.text and "Đảng bộ xã Xa" in page.text
    assert ticked_of(page.text) == {world.other_unit_id}
    assert "Đang theo dõi" in page.text and "<details open>" in page.text
    shown = shown_of(page.text)
    assert {int(i) for i in shown.split(",")} >= {world.unit_id, tree.far_unit_id}
    before = await audits(web)
    form = {"csrf": csrf, "person": str(person), "shown": shown}
    saved = await client.post(
        "/desk/assign", data={**form, "unit": [str(world.unit_id), str(tree.far_unit_id)]}
    )
    assert saved.status_code == 303
    assert await followed(web, person) == {world.unit_id, tree.far_unit_id}
    assert await audits(web) == before + 3  # two grants, one revocation
    again = await client.get(saved.headers["location"])
    assert "Đã lưu: giao thêm 2 đơn vị, thôi theo dõi 1 đơn vị." in again.text
    assert ticked_of(again.text) == {world.unit_id, tree.far_unit_id}
    # A phone number picks the person too (the reporter's, typed with spaces).
    by_phone = await client.get("/desk/assign", params={"who": "0912 345 678"})
    assert "Các đơn vị đồng chí Nguyễn Văn A theo dõi" in by_phone.text


async def test_csrf_is_required_and_supervisors_have_no_desk(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    web, world = tree.web, tree.web.world
    await sign_in(client, web, web.admin_id)
    data = {"person": str(web.other_supervisor_id), "shown": "", "unit": str(world.unit_id)}
    for extra in ({}, {"csrf": "0" * 64}):
        refused = await client.post("/desk/assign", data={**data, **extra})
        assert refused.status_code == 403 and "Biểu mẫu" in refused.text
    assert await followed(web, web.other_supervisor_id) == {world.other_unit_id}
    async for other in client_of(web):
        csrf = await sign_in(other, web, world.supervisor_id)
        assert (await other.get("/desk/assign")).status_code == 404
        posted = await other.post("/desk/assign", data={**data, "csrf": csrf})
        assert posted.status_code == 404
    assert await followed(web, web.other_supervisor_id) == {world.other_unit_id}


async def test_a_district_admin_stays_inside_the_district(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    web, world = tree.web, tree.web.world
    person = web.other_supervisor_id
    csrf = await sign_in(client, web, tree.district_admin_id)
    picker = await client.get("/desk/assign")
    assert "Vũ Văn Theo" in picker.text and "Lý Văn Rộng" not in picker.text
    page = await client.get(f"/desk/assign?who={person}")
    assert page.status_code == 200
    assert "Đảng bộ xã Đông" in page.text
    assert "Đảng bộ xã Xa" not in page.text and "Tỉnh ủy" not in page.text
    shown = {int(i) for i in shown_of(page.text).split(",")}
    assert shown == {tree.district_id, world.unit_id, world.other_unit_id}
    before = await audits(web)
    # A forged unit outside the district, next to a good one: refused, nothing changes.
    forged = await save(
        client, csrf, person, shown_of(page.text), [world.unit_id, tree.far_unit_id]
    )
    assert forged.status_code == 403
    assert f"Đơn vị số {tree.far_unit_id} không thuộc phạm vi đồng chí quản lý" in forged.text
    assert "chưa có thay đổi nào được lưu" in forged.text
    smuggled = await save(client, csrf, person, str(tree.far_unit_id), [])
    assert smuggled.status_code == 403
    assert await followed(web, person) == {world.other_unit_id}
    # A person whose roles reach outside the district cannot be picked nor assigned.
    wide = tree.far_supervisor_id
    hidden = await client.get(f"/desk/assign?who={wide}")
    assert hidden.status_code == 404 and "Không tìm thấy người" in hidden.text
    out_of_reach = await save(client, csrf, wide, "", [world.unit_id])
    assert out_of_reach.status_code == 403 and "chưa có thay đổi nào" in out_of_reach.text
    assert await followed(web, wide) == {world.other_unit_id, tree.far_unit_id}
    assert await audits(web) == before
    # Inside the district it works.
    done = await save(client, csrf, person, shown_of(page.text), [world.unit_id, tree.district_id])
    assert done.status_code == 303
    assert await followed(web, person) == {world.unit_id, tree.district_id}


async def test_a_big_tree_opens_deeper_levels_from_their_parent(
    tree: Tree, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    web, world = tree.web, tree.web.world
    monkeypatch.setattr(assign_tree, "MAX_SHOWN", 3)  # province and its two districts
    csrf = await sign_in(client, web, web.admin_id)
    person = web.other_supervisor_id
    page = await client.get(f"/desk/assign?who={person}")
    assert "Đảng bộ xã Đông" not in page.text
    assert "1 đơn vị trực thuộc đang theo dõi" in page.text  # CS2, folded under H
    link = f"/desk/assign?who={person}&amp;under={tree.district_id}"
    assert link in page.text
    deeper = await client.get(link.replace("&amp;", "&"))
    assert "Đảng bộ xã Đông" in deeper.text and ticked_of(deeper.text) == {world.other_unit_id}
    # Saving the deeper page leaves what it did not show alone.
    saved = await client.post(
        "/desk/assign",
        data={
            "csrf": csrf,
            "person": str(person),
            "shown": shown_of(deeper.text),
            "under": str(tree.district_id),
            "unit": str(world.unit_id),
        },
    )
    assert saved.headers["location"].endswith(f"under={tree.district_id}&saved=1-1")
    assert await followed(web, person) == {world.unit_id}
