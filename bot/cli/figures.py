"""`cadrebot report`: the draft written report (the article's paragraph) from the data."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import common
from bot.narrative import narrative
from storage.campaign_status import open_condition
from storage.clock import end_of_day, system_clock
from storage.figures import CAMPAIGN, LEVEL, UNIT, compute_figures, load_campaign
from storage.i18n import t
from storage.models import Campaign
from storage.review import review_required
from storage.shortcomings import find_shortcomings

_DMY = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def parse_day(value: str) -> date | None:
    """`30/9/2016`, `30-9-2016`, `30.9.2016` or `2016-09-30`; None when it is not a date."""
    if match := _ISO.match(value):
        y, m, d = (int(g) for g in match.groups())
    elif match := _DMY.match(value):
        d, m, y = (int(g) for g in match.groups())
    else:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_groups(values: list[str]) -> list[tuple[str, ...]]:
    """`--levels tinh+huyen --levels co_so` -> [("tinh", "huyen"), ("co_so",)]."""
    return [tuple(code.strip() for code in v.split("+") if code.strip()) for v in values]


async def _campaign(session: AsyncSession, wanted: str | None) -> tuple[int, str]:
    if wanted is None:
        # No --campaign: the one open campaign (several: the admin must say which).
        rows = (
            await session.execute(
                select(CAMPAIGN.c.id, CAMPAIGN.c.timezone, CAMPAIGN.c.reference)
                .where(open_condition())
                .order_by(CAMPAIGN.c.id)
            )
        ).all()
        if len(rows) != 1:
            known = ", ".join(r.reference for r in rows) or "—"
            raise common.Refused(t("figures.cli.which_campaign", "vi", known=known))
        return rows[0].id, rows[0].timezone
    condition = CAMPAIGN.c.reference == wanted
    if wanted.isdigit():
        condition = or_(condition, CAMPAIGN.c.id == int(wanted))
    rows = (
        await session.execute(
            select(CAMPAIGN.c.id, CAMPAIGN.c.timezone, CAMPAIGN.c.reference).where(condition)
        )
    ).all()
    # A reference that happens to be digits wins over an id.
    row = next((r for r in rows if r.reference == wanted), rows[0] if rows else None)
    if row is None:
        raise common.Refused(t("figures.cli.unknown_campaign", "vi", campaign=wanted))
    return row.id, row.timezone


async def _report(
    *,
    campaign: str | None,
    under: str | None,
    day: date | None,
    groups: list[tuple[str, ...]],
    lang: str,
    approved_only: bool = False,
) -> str:
    async with common.database() as db, db.read() as session:
        campaign_id, tz = await _campaign(session, campaign)
        root_path = None
        if under:
            root_path = (
                await session.execute(select(UNIT.c.path).where(UNIT.c.code == under))
            ).scalar_one_or_none()
            if root_path is None:
                raise common.Refused(t("figures.cli.unknown_unit", "vi", code=under))
        known = list((await session.execute(select(LEVEL.c.code).order_by(LEVEL.c.rank))).scalars())
        for code in (c for group in groups for c in group):
            if code not in known:
                raise common.Refused(
                    t("figures.cli.unknown_level", "vi", code=code, known=", ".join(known))
                )
        # The end of the given local day (inclusive), or the present moment.
        as_of: datetime = end_of_day(day, tz) - timedelta(microseconds=1) if day else system_clock()
        context = await load_campaign(
            session=session, campaign_id=campaign_id, approved_only=approved_only
        )
        figures = await compute_figures(
            session=session,
            campaign_id=campaign_id,
            as_of=as_of,
            root_path=root_path,
            combined=groups,
            context=context,
        )
        found = await find_shortcomings(
            session=session,
            campaign_id=campaign_id,
            as_of=as_of,
            root_path=root_path,
            context=context,
        )
        reviewed = approved_only or review_required(await session.get_one(Campaign, campaign_id))
    paragraph = narrative(figures, found, lang=lang)
    if not reviewed:
        return paragraph  # no review in this campaign: every confirmed report counts, as always
    basis = t("review.basis.approved" if approved_only else "review.basis.all", lang)
    return f"{paragraph}\n\n{basis}"


def report(
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            help="Số hiệu (13-KH/TU) hoặc mã số của đợt học tập; bỏ trống: đợt đang mở",
        ),
    ] = None,
    under: Annotated[
        str | None, typer.Option("--under", help="Chỉ tính các đơn vị thuộc đơn vị có mã này")
    ] = None,
    as_of: common.AsOfOption = None,
    levels: Annotated[
        list[str] | None,
        typer.Option(
            "--levels",
            help="Nhóm cấp để tính gộp, ví dụ --levels tinh+huyen --levels co_so",
        ),
    ] = None,
    lang: common.LangOption = "vi",
    approved_only: common.ApprovedOnlyOption = False,
) -> None:
    """Viết đoạn báo cáo kết quả học tập, quán triệt từ số liệu (draft the written report)."""
    common.check_lang(lang)
    day = None
    if as_of is not None:
        day = parse_day(as_of)
        if day is None:
            raise common.fail(t("figures.cli.bad_date", "vi", value=as_of))
    text = common.run(
        _report(
            campaign=campaign,
            under=under,
            day=day,
            groups=parse_groups(levels or []),
            lang=lang,
            approved_only=approved_only,
        )
    )
    typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add `report` to the `cadrebot` application."""
    app.command("report")(report)
