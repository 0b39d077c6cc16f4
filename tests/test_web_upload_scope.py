"""Uploads by an admin of one district (#16.3): the unit tree, people and paper reports may
touch only their subtree. A row for a unit (or a person) outside it is a line-numbered
Vietnamese problem and nothing of the file is written; the same file without that row is
written. Both engines (the `db` fixture)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.models import ROLE_ADMIN, ROLE_REPORTER, Person, Report, Role, Unit
from storage.unit_lookup import units_by_code
from tests.factories import make_person, make_unit, pk
from tests.test_web_pages import client, web
from tests.web_fixtures import WebWorld, sign_in

__all__ = ["client", "web"]


@dataclass
class District:
    admin_id: int  # admin of district H (CS1, CS2)
    outside_id: int  # district H2, with CS3


@pytest.fixture
async def district(web: WebWorld) -> District:
    async with web.db.write() as session:
        found = await units_by_code(session=session, codes=["T", "H"])
        h2 = await make_unit(session, "H2", parent=found["T"], level="huyen", members=90)
        cs3 = await make_unit(session, "CS3", parent=h2, level="co_so", members=20)
        admin = await make_person(session, "Đỗ Thị Huyện", roles=[(ROLE_ADMIN, found["H"])])
        await make_person(session, "Ngô Văn Xa", "0901000004", roles=[(ROLE_REPORTER, cs3)])
        return District(pk(admin), pk(h2))


async def _units(web: WebWorld) -> list[tuple[str, str, int | None, int]]:
    async with web.db.read() as session:
        rows = await session.execute(
            select(col(Unit.code), col(Unit.name), col(Unit.parent_id), col(Unit.members))
        )
        return sorted((c, n, p, m) for c, n, p, m in rows.all())


async def _people(web: WebWorld) -> list[tuple[str, str | None, str, int | None]]:
    async with web.db.read() as session:
        rows = await session.execute(
            select(
                col(Person.full_name), col(Person.phone), col(Role.kind), col(Role.unit_id)
            ).outerjoin(Role, col(Role.person_id) == col(Person.id))
        )
        return sorted(rows.all(), key=repr)


def _row(line: int, text: str) -> str:
    return f"<td>{line}</td><td>{text}"


async def _upload(
    client: httpx.AsyncClient, kind: str, data: dict[str, str], body: str, want: int
) -> str:
    """Post `body` as a CSV upload of `kind`; the page when its status is `want`."""
    files = {"file": (f"{kind}.csv", body.encode())}
    answer = await client.post(f"/desk/upload/{kind}", data=data, files=files)
    assert answer.status_code == want, answer.text
    return answer.text


HEADER = "code,name,level,parent_code,members\n"


async def test_units_outside_the_district_refuse_the_file(
    web: WebWorld, client: httpx.AsyncClient, district: District
) -> None:
    csrf = await sign_in(client, web, district.admin_id)
    before = await _units(web)
    spoiled = (
        HEADER + "X1,Xã Bắc,co_so,H,40\n"  # line 2: inside, fine
        "X2,Xã Ngoài,co_so,H2,10\n"  # a new unit under another district
        "CS3,Xã Đổi Tên,co_so,H2,20\n"  # another district's unit renamed
        "CS1,Đảng bộ xã Đông,co_so,H2,30\n"  # own unit moved out
        "H,Huyện ủy,huyen,,200\n"  # the admin's own unit moved to the top
    )
    text = await _upload(client, "units", {"csrf": csrf}, spoiled, 422)
    assert "<td>2</td>" not in text  # line 2 is fine
    assert _row(3, "đơn vị X2 nằm ngoài phạm vi quản lý của đồng chí") in text
    assert _row(4, "đơn vị CS3 nằm ngoài phạm vi quản lý") in text
    assert _row(5, "đơn vị CS1 nằm ngoài phạm vi quản lý") in text
    assert _row(6, "đơn vị H là đơn vị đồng chí quản trị") in text
    assert await _units(web) == before
    good = HEADER + "X1,Xã Bắc,co_so,H,40\nH,Huyện ủy mới,huyen,T,200\n"
    text = await _upload(client, "units", {"csrf": csrf}, good, 200)
    after = {code: name for code, name, _, _ in await _units(web)}
    assert after["X1"] == "Xã Bắc" and after["H"] == "Huyện ủy mới" and "X2" not in after


async def test_a_file_with_syntax_errors_also_lists_the_rows_outside(
    web: WebWorld, client: httpx.AsyncClient, district: District
) -> None:
    csrf = await sign_in(client, web, district.admin_id)
    body = HEADER + "X1,Xã Bắc,co_so,H,mười\nX2,Xã Ngoài,co_so,H2,10\n"
    text = await _upload(client, "units", {"csrf": csrf}, body, 422)
    assert "<td>2</td>" in text and _row(3, "đơn vị X2 nằm ngoài") in text


async def test_people_outside_the_district_refuse_the_file(
    web: WebWorld, client: httpx.AsyncClient, district: District
) -> None:
    csrf = await sign_in(client, web, district.admin_id)
    before = await _people(web)
    spoiled = (
        "name,phone,role,units\n"
        "Nguyễn Mới,0901000001,reporter,CS1\n"  # line 2: inside, fine
        "Lê Ngoài,0901000002,reporter,CS3\n"  # a unit of another district
        "Trùm Toàn Tỉnh,0901000003,admin,\n"  # a whole-tree admin role
        "Ngô Văn Xa,0901000004,reporter,CS2\n"  # a person of another district
    )
    text = await _upload(client, "people", {"csrf": csrf}, spoiled, 422)
    assert "<td>2</td>" not in text  # line 2 is fine
    assert _row(3, "đơn vị CS3 nằm ngoài phạm vi quản lý của đồng chí") in text
    assert _row(4, "quản trị toàn bộ chỉ do quản trị viên toàn tỉnh giao") in text
    assert _row(5, "người có số điện thoại 0901000004 giữ vai trò ngoài phạm vi") in text
    assert await _people(web) == before
    good = "name,phone,role,units\nNguyễn Mới,0901000001,reporter,CS1\n"
    text = await _upload(client, "people", {"csrf": csrf}, good, 200)
    added = set(await _people(web)) - set(before)
    assert [(name, phone, kind) for name, phone, kind, _ in added] == [
        ("Nguyễn Mới", "0901000001", ROLE_REPORTER)
    ]


PAPER = "deliverable,Mã đơn vị,session_date,duration_halfdays,members,attended,essays\n"


async def test_paper_reports_outside_the_district_refuse_the_file(
    web: WebWorld, client: httpx.AsyncClient, district: District
) -> None:
    csrf = await sign_in(client, web, district.admin_id)

    async def stored() -> list[int]:
        async with web.db.read() as session:
            return sorted((await session.execute(select(col(Report.unit_id)))).scalars())

    before = await stored()
    spoiled = PAPER + "hoi_nghi,CS2,20/9/2016,2,12,11,10\nhoi_nghi,CS3,20/9/2016,2,20,18,15\n"
    data = {"csrf": csrf, "campaign": str(web.world.campaign_id)}
    text = await _upload(client, "reports", data, spoiled, 422)
    assert "<td>2</td>" not in text  # line 2 is fine
    assert _row(3, "Tổ chức đảng “CS3” không thuộc phạm vi quản lý của người nhập") in text
    assert await stored() == before
    good = PAPER + "hoi_nghi,CS2,20/9/2016,2,12,11,10\n"
    text = await _upload(client, "reports", data, good, 200)
    assert "Thêm mới 1 báo cáo" in text
    assert await stored() == sorted([*before, web.world.other_unit_id])
