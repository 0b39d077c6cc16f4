"""The rollup sheet: one row per unit at the level right under the top level (the districts
under the province), each with its whole subtree's figures.

A row is the subtree's pooled total (`Figures.total`), so a cell under a grassroots committee
is never added to it (storage.figures.overlap); all rows come from one set-based statement
(`compute_figures_many`), whatever the number of districts."""

from __future__ import annotations

from datetime import datetime

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.export.sheet import Column, Sheet, column_maker
from bot.export.summary import summary_columns, summary_row
from storage.figures import UNIT, CampaignContext, UnitScope, compute_figures_many, scope_condition
from storage.i18n import t
from storage.i18n.formatting import level_label

SHEET_TITLE_MAX = 31  # Excel's limit on a sheet name


def rollup_level(ctx: CampaignContext) -> str | None:
    """The level ranked right under the campaign's top level (None: a one-level campaign)."""
    return ctx.levels[1].code if len(ctx.levels) > 1 else None


def rollup_columns(lang: str) -> list[Column]:
    c = column_maker("units", lang)
    return [c("code", width=12), c("name", width=34), *summary_columns(lang)[1:]]


async def write_rollup(
    workbook: Workbook,
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
) -> Sheet | None:
    """Add the rollup sheet (None when the campaign has a single level)."""
    level = rollup_level(ctx)
    if level is None:
        return None
    info = ctx.levels[1]
    units = (
        await session.execute(
            select(UNIT.c.code, UNIT.c.name, UNIT.c.path)
            .where(
                UNIT.c.level_code == level,
                scope_condition(ctx, as_of=as_of, root_path=root_path, unit_filter=None),
            )
            .order_by(UNIT.c.path)
        )
    ).all()
    figures = await compute_figures_many(
        session=session,
        campaign_id=ctx.id,
        as_of=as_of,
        scopes={row.path: UnitScope(paths=(row.path,)) for row in units},
        context=ctx,
    )
    title = t("export.sheet.rollup", lang, level=level_label(info, lang).lower())
    sheet = Sheet(
        workbook,
        title[:SHEET_TITLE_MAX],
        rollup_columns(lang),
        freeze_columns=2,
        numbered=True,
        lang=lang,
    )
    for row in units:
        sheet.append([row.code, *summary_row(row.name, figures[row.path].total)])
    return sheet
