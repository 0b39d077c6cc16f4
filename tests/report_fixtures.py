"""A small world for report and conversation tests: the built-in NQ XII campaign loaded through
storage.campaigns, a province > district > two grassroots units, and people with roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.models import ROLE_REPORTER, ROLE_SUPERVISOR, Deliverable
from tests.factories import make_levels, make_person, make_unit, pk

# 29/9/2016 10:00 in Hà Nội: after the study-session deadline (31/8), before the action-program
# deadline (30/9).
NOW = datetime(2016, 9, 29, 3, 0, tzinfo=UTC)
LOADED = datetime(2016, 5, 1, tzinfo=UTC)


@dataclass
class World:
    db: Database
    campaign_id: int
    unit_id: int  # grassroots unit "CS1", 30 members
    other_unit_id: int  # grassroots unit "CS2", 12 members
    province_id: int
    reporter_id: int  # reporter of CS1
    colleague_id: int  # second reporter of CS1
    double_id: int  # reporter of CS1 and CS2
    supervisor_id: int  # supervisor only
    stranger_id: int  # no role at all
    deliverables: dict[str, int]  # key -> id


async def build_world(db: Database, template: str | None = None) -> World:
    async with db.write() as session:
        await make_levels(session)
        province = await make_unit(session, "T", level="tinh", members=500, name="Tỉnh ủy")
        district = await make_unit(session, "H", parent=province, level="huyen", members=200)
        unit = await make_unit(
            session, "CS1", parent=district, level="co_so", members=30, name="Đảng bộ xã Đông"
        )
        other = await make_unit(
            session, "CS2", parent=district, level="co_so", members=12, name="Đảng bộ xã Tây"
        )
        campaign = await load_campaign(
            session=session, definition=parse_definition(template or template_text()), now=LOADED
        )
        reporter = await make_person(session, "Nguyễn Văn A", roles=[(ROLE_REPORTER, unit)])
        colleague = await make_person(session, "Lê Thị C", roles=[(ROLE_REPORTER, unit)])
        double = await make_person(
            session, "Trần Văn D", roles=[(ROLE_REPORTER, unit), (ROLE_REPORTER, other)]
        )
        supervisor = await make_person(session, "Phạm Văn E", roles=[(ROLE_SUPERVISOR, district)])
        stranger = await make_person(session, "Người lạ")
        rows = await session.execute(
            select(col(Deliverable.key), col(Deliverable.id)).where(
                col(Deliverable.campaign_id) == campaign.id
            )
        )
        deliverables = {str(key): int(ident or 0) for key, ident in rows.all()}
        return World(
            db=db,
            campaign_id=pk(campaign),
            unit_id=pk(unit),
            other_unit_id=pk(other),
            province_id=pk(province),
            reporter_id=pk(reporter),
            colleague_id=pk(colleague),
            double_id=pk(double),
            supervisor_id=pk(supervisor),
            stranger_id=pk(stranger),
            deliverables=deliverables,
        )
