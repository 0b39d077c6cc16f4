"""The new-campaign form on a unit tree whose levels are data (#16): on the 2025 structure (tỉnh ->
xã, phường, no huyện) it builds the campaign from the two-level template and asks no district
deadline; on a tree with units on every level it offers both templates, the three-level one
first; with the default levels but no unit at the huyện level, the two-level one first; on a tree
no built-in template fits it says so and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlmodel import col

from bot.web.app import build_app
from bot.web.campaign_form import blank_values
from bot.web.links import create_web_link
from storage.campaigns import definition_of, fitting_templates
from storage.db import Database
from storage.models import ROLE_ADMIN, Campaign, Deliverable, DeliverableDeadline, Level, Unit
from storage.settings import load_settings
from tests.factories import DEFAULT_LEVELS, make_levels, make_person, make_unit, pk
from tests.report_fixtures import NOW
from tests.web_fixtures import BASE, BOT_TOKEN, csrf_from, token_of

TWO_LEVELS = ("tinh", "co_so", "chi_bo")


async def _tree(db: Database, levels: Sequence[str]) -> int:
    """A province with one commune (and a cell where the tree has cells), its levels only those
    given; returns a whole-tree admin's id."""
    async with db.write() as session:
        rows = [
            {"code": code, "label_vi": vi, "label_en": en, "rank": rank}
            for code, vi, en, rank in DEFAULT_LEVELS
            if code in levels
        ]
        if rows:
            await session.execute(insert(Level), rows)
        province = await make_unit(session, "T", level="tinh", members=500, name="Tỉnh ủy")
        commune = await make_unit(session, "X1", parent=province, level="co_so", members=40)
        if "chi_bo" in levels:
            await make_unit(session, "X1_CB1", parent=commune, level="chi_bo", members=12)
        admin = await make_person(session, "Hoàng Thị Quản", roles=[(ROLE_ADMIN, None)])
        return pk(admin)


async def _client(db: Database, admin_id: int) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    settings = load_settings(web_url=BASE, telegram_token=BOT_TOKEN)
    app = build_app(db, settings, clock=lambda: NOW)
    async with db.write() as session:
        url = await create_web_link(
            session=session, person_id=admin_id, now=NOW, base_url=settings.web_url
        )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        signed = await client.post("/w", data={"token": token_of(url)})
        assert signed.status_code == 303, signed.text
        yield client, csrf_from((await client.get("/")).text)


@pytest.fixture
async def two_level(db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async for pair in _client(db, await _tree(db, TWO_LEVELS)):
        yield pair


def _form(csrf: str, template: str, reference: str = "05-KH/TU") -> dict[str, str]:
    values = {k: "2017-03-31" for k in blank_values(template) if k.startswith("due__")}
    values.update(csrf=csrf, name="Học tập Nghị quyết Trung ương 4", reference=reference)
    values.update(resolution="Nghị quyết Trung ương 4 khóa XII", start_date="2017-01-05")
    return {**values, "template": template}


async def _saved(db: Database, reference: str) -> tuple[Campaign, set[str]] | None:
    """The campaign with that reference and the levels of its stored deadlines."""
    async with db.read() as session:
        found = await session.execute(select(Campaign).where(col(Campaign.reference) == reference))
        campaign = found.scalar_one_or_none()
        if campaign is None:
            return None
        levels = await session.execute(
            select(col(DeliverableDeadline.level_code))
            .join(Deliverable, col(Deliverable.id) == col(DeliverableDeadline.deliverable_id))
            .where(col(Deliverable.campaign_id) == campaign.id)
        )
        return campaign, set(levels.scalars())


async def _campaigns(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(Campaign))).scalar_one())


def test_the_templates_that_fit_a_tree_are_those_whose_levels_it_has() -> None:
    assert fitting_templates(TWO_LEVELS) == ["nq-hai-cap"]
    assert fitting_templates([code for code, *_ in DEFAULT_LEVELS]) == ["nq-xii", "nq-hai-cap"]
    assert fitting_templates(["tinh", "co_so"]) == []


async def test_a_two_level_tree_gets_the_two_level_campaign_with_no_district_deadline(
    db: Database, two_level: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = two_level
    shown = await client.get("/desk/campaigns/new")
    assert shown.status_code == 200
    assert "Hai cấp: tỉnh, xã và phường" in shown.text and "<select" not in shown.text
    assert "huyen" not in shown.text and "Cấp huyện" not in shown.text
    assert 'name="template" value="nq-hai-cap"' in shown.text
    assert "Hạn báo cáo — Cấp cơ sở" in shown.text
    created = await client.post("/desk/campaigns/new", data=_form(csrf, "nq-hai-cap"))
    assert created.status_code == 303, created.text
    saved = await _saved(db, "05-KH/TU")
    assert saved is not None
    campaign, levels = saved
    assert levels == set(TWO_LEVELS)
    groups = definition_of(campaign).campaign.reporting_groups
    assert [(g.label_vi, g.levels) for g in groups] == [
        ("cấp tỉnh", ["tinh"]),
        ("cấp xã, phường", ["co_so"]),
    ]


async def test_a_two_level_tree_refuses_the_three_level_template_and_writes_nothing(
    db: Database, two_level: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = two_level
    refused = await client.post("/desk/campaigns/new", data=_form(csrf, "nq-xii"))
    assert refused.status_code == 422
    assert "Mẫu đợt đã chọn không phù hợp với các cấp của cây đơn vị" in refused.text
    assert "unknown level" not in refused.text and "huyen" not in refused.text
    assert 'value="Học tập Nghị quyết Trung ương 4"' in refused.text  # the text typed is kept
    assert await _campaigns(db) == 0
    # A form posted without a template (as before #16) takes the one that fits.
    unnamed = {k: v for k, v in _form(csrf, "nq-hai-cap").items() if k != "template"}
    created = await client.post("/desk/campaigns/new", data=unnamed)
    assert created.status_code == 303, created.text
    saved = await _saved(db, "05-KH/TU")
    assert saved is not None and saved[1] == set(TWO_LEVELS)


async def test_a_tree_with_every_level_chooses_between_both_templates(db: Database) -> None:
    async with db.write() as session:
        await make_levels(session)
    admin = await _tree(db, ())  # the four levels made above; T and X1 on them
    async with db.write() as session:  # and a district: every level has units
        await make_unit(session, "H1", parent=await _unit(session, "T"), level="huyen")
    async for client, csrf in _client(db, admin):
        shown = await client.get("/desk/campaigns/new")
        assert shown.status_code == 200 and "<select" in shown.text
        assert shown.text.index("Ba cấp: tỉnh, huyện, cơ sở") < shown.text.index("Hai cấp")
        assert 'name="template" value="nq-xii"' in shown.text and "Cấp huyện" in shown.text
        picked = await client.get("/desk/campaigns/new?template=nq-hai-cap")
        assert 'name="template" value="nq-hai-cap"' in picked.text
        assert "Cấp huyện" not in picked.text.split("<fieldset>", 1)[1]
        unnamed = {k: v for k, v in _form(csrf, "nq-xii").items() if k != "template"}
        assert (await client.post("/desk/campaigns/new", data=unnamed)).status_code == 303
        three = await _saved(db, "05-KH/TU")
        assert three is not None and three[1] == {"tinh", "huyen", "co_so", "chi_bo"}
        posted = await client.post("/desk/campaigns/new", data=_form(csrf, "nq-hai-cap", "06"))
        assert posted.status_code == 303, posted.text
        two = await _saved(db, "06")
        assert two is not None and two[1] == set(TWO_LEVELS)


async def test_every_level_defined_but_no_district_unit_puts_the_two_level_template_first(
    db: Database,
) -> None:
    async with db.write() as session:
        await make_levels(session)  # huyện stays a level (the defaults), no unit is on it
    admin = await _tree(db, ())
    async for client, csrf in _client(db, admin):
        shown = await client.get("/desk/campaigns/new")
        assert shown.text.index("Hai cấp") < shown.text.index("Ba cấp: tỉnh, huyện, cơ sở")
        assert 'name="template" value="nq-hai-cap"' in shown.text
        assert "Cấp huyện" not in shown.text.split("<fieldset>", 1)[1]
        unnamed = {k: v for k, v in _form(csrf, "nq-hai-cap").items() if k != "template"}
        assert (await client.post("/desk/campaigns/new", data=unnamed)).status_code == 303
        saved = await _saved(db, "05-KH/TU")
        assert saved is not None and saved[1] == set(TWO_LEVELS)
        asked = await client.get("/desk/campaigns/new?template=nq-xii")  # still offered
        assert 'name="template" value="nq-xii"' in asked.text and "Cấp huyện" in asked.text


async def _unit(session: Any, code: str) -> Unit:
    found = (await session.execute(select(Unit).where(col(Unit.code) == code))).scalar_one()
    assert isinstance(found, Unit)
    return found


async def test_a_tree_no_template_fits_is_told_so_and_nothing_is_written(db: Database) -> None:
    admin = await _tree(db, ("tinh", "co_so"))
    async for client, csrf in _client(db, admin):
        shown = await client.get("/desk/campaigns/new")
        told = "Chưa có mẫu có sẵn nào phù hợp với các cấp của cây đơn vị (Cấp tỉnh, Cấp cơ sở)"
        assert shown.status_code == 200 and told in shown.text
        assert 'action="/desk/campaigns/new"' not in shown.text
        refused = await client.post("/desk/campaigns/new", data=_form(csrf, "nq-hai-cap"))
        assert refused.status_code == 422 and told in refused.text
        assert await _campaigns(db) == 0
