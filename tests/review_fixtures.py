"""Shared by the review tests: a campaign that requires review, and one report of CS1."""

from __future__ import annotations

import asyncio
import io
from datetime import date
from itertools import zip_longest
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from storage.db import Database
from storage.i18n import t
from storage.models import CHANNEL_CLI, Campaign, Outbox
from storage.reports import save_report
from tests.report_fixtures import NOW, World

ANSWERS = {
    "session_date": date(2016, 8, 20),
    "duration_halfdays": 2,
    "members": 30,
    "attended": 28,
    "nonmembers_attended": 5,
    "presenter": "Đồng chí Nguyễn Văn B",
    "presenter_standing": "bao_cao_vien",
    "essays": 20,
}


async def require_review(db: Database, campaign_id: int, required: bool = True) -> None:
    async with db.write() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        definition = dict(campaign.definition)
        definition["campaign"] = {**definition["campaign"], "review_required": required}
        campaign.definition = definition


async def session_report(db: Database, world: World, unit_id: int | None = None) -> int:
    async with db.write() as session:
        report = await save_report(
            session=session,
            unit_id=unit_id or world.unit_id,
            deliverable_id=world.deliverables["hoi_nghi"],
            answers=ANSWERS,
            person_id=world.reporter_id,
            channel=CHANNEL_CLI,
            now=NOW,
        )
        assert report.id is not None
        return report.id


async def review_notices(db: Database) -> list[Outbox]:
    async with db.read() as session:
        query = select(Outbox).where(Outbox.kind == "review").order_by(Outbox.id)  # type: ignore[arg-type]
        return list((await session.execute(query)).scalars())


def evidence_by_unit(workbook: bytes) -> dict[str, dict[str, Any]]:
    """The workbook's "Có biên bản" columns read back: unit code -> deliverable block -> count."""
    book = load_workbook(io.BytesIO(workbook))
    rows = list(book[t("export.sheet.units", "vi")].iter_rows(values_only=True))
    book.close()
    groups, titles = rows[0], rows[1]
    block, columns = None, {}
    for index, (group, title) in enumerate(zip_longest(groups, titles)):
        block = group or block
        if title == t("export.units.evidence", "vi"):
            columns[str(block)] = index
    code = titles.index(t("export.units.code", "vi"))
    return {str(row[code]): {name: row[i] for name, i in columns.items()} for row in rows[2:]}


def kill_the_next_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies once between a turn's commit and its reply (the next `deliver` raises
    CancelledError); later turns reply as usual."""
    from bot.core import turn as turn_module

    real = turn_module.deliver
    kills = [asyncio.CancelledError()]

    async def killed(*args: Any, **kwargs: Any) -> None:
        if kills:
            raise kills.pop()
        await real(*args, **kwargs)

    monkeypatch.setattr(turn_module, "deliver", killed)
