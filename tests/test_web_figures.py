"""The console's pages get their area's figures and every row shown from one statement: the
area equals `compute_figures` over the same subtree, now and a week earlier (an inactive child's
active cell still counted, no member counted twice), and each row equals its own subtree."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from bot.web.figures_view import area_and_rows
from storage.db import Database
from storage.figures import UnitScope, compute_figures, load_campaign
from storage.models import Unit
from storage.reports import save_report
from tests.factories import make_unit
from tests.report_fixtures import NOW
from tests.web_fixtures import SESSION, build_web_world


async def test_pooled_area_equals_the_direct_figures(db: Database) -> None:
    web = await build_web_world(db)
    world = web.world
    async with db.write() as session:
        district = await session.get(Unit, world.unit_id - 1)
        assert district is not None
        closed = await make_unit(session, "CS9", parent=district, level="co_so", members=9)
        cell = await make_unit(session, "CB1", parent=closed, level="chi_bo", members=5)
        await save_report(
            session=session,
            unit_id=cell.id or 0,
            deliverable_id=world.deliverables["hoi_nghi"],
            answers={**SESSION, "members": 5, "attended": 5, "essays": 5},
            person_id=None,
            channel="cli",
            now=NOW - timedelta(days=3),
        )
        # An inactive unit whose cell is still active: its subtree still counts.
        await session.execute(update(Unit).where(col(Unit.id) == closed.id).values(active=False))
        ctx = await load_campaign(session=session, campaign_id=world.campaign_id)
        children = [
            u
            for u in (await session.execute(Unit.__table__.select())).all()  # type: ignore[attr-defined]
            if u.parent_id == district.id
        ]
        active = [u for u in children if u.active]
        area = await area_and_rows(
            session,
            ctx,
            NOW,
            area=UnitScope(paths=(district.path,)),
            rows=[(u, UnitScope(paths=(u.path,))) for u in active],
            root_path=district.path,
            week=True,
        )
        direct = await compute_figures(
            session=session,
            campaign_id=world.campaign_id,
            as_of=NOW,
            root_path=district.path,
            with_previous=True,
        )
        each = {
            u.code: (
                await compute_figures(
                    session=session, campaign_id=world.campaign_id, as_of=NOW, root_path=u.path
                )
            ).total
            for u in active
        }
    assert area.figures.cells == direct.cells
    assert area.figures.total == direct.total
    assert area.figures.previous is not None and direct.previous is not None
    assert area.figures.previous.total == direct.previous.total
    assert {row.unit.code: row.figures for row in area.rows} == each
    # The one followed unit is the whole area: counted once, the same figures.
    async with db.read() as session:
        alone = await area_and_rows(
            session,
            ctx,
            NOW,
            area=UnitScope(paths=(district.path,)),
            rows=[(district, UnitScope(paths=(district.path,)))],
            root_path=district.path,
        )
    assert alone.figures.cells == direct.cells and alone.rows[0].figures == direct.total
    assert set(each) == {"CS1", "CS2"}
    assert direct.total.unit_session.reported == 2  # CS1 and the cell under the inactive CS9
