"""The entry point `write_export` and its two formats: `write_xlsx` (the campaign workbook) and
`write_csv` (one row per unit)."""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.export.history import history_columns, unit_history, version_history
from bot.export.rollup import write_rollup
from bot.export.sheet import Column, ProgressCallback, Sheet, rate_value
from bot.export.summary import shortcoming_columns, shortcoming_label, write_summary
from bot.export.units import (
    Reading,
    level_labels,
    measure_blocks,
    missing_columns,
    missing_values,
    unit_columns,
    unit_values,
)
from storage.figures import (
    CAMPAIGN,
    UNIT,
    CampaignContext,
    compute_figures,
    expected_rows,
    load_campaign,
)
from storage.i18n import t
from storage.sheets import CsvWriter
from storage.shortcomings import (
    find_shortcomings,
)


async def _expected_units(
    session: AsyncSession, ctx: CampaignContext, as_of: datetime, root_path: str | None
) -> int:
    inner = expected_rows(
        ctx, [UNIT.c.id], as_of=as_of, root_path=root_path, unit_filter=None
    ).distinct()
    return int(
        (await session.execute(select(func.count()).select_from(inner.subquery()))).scalar_one()
    )


async def _campaign_start(session: AsyncSession, campaign_id: int, tz: str) -> datetime:
    start = (
        await session.execute(select(CAMPAIGN.c.start_date).where(CAMPAIGN.c.id == campaign_id))
    ).scalar_one()
    return datetime(start.year, start.month, start.day, tzinfo=ZoneInfo(tz))


PROGRESS_EVERY = 500  # unit rows between two progress reports


async def _drain(
    rows: AsyncIterator[list[Any]],
    append: Callable[[list[Any]], None],
    *,
    total: int = 0,
    progress_cb: ProgressCallback | None = None,
) -> int:
    """Stream `rows` into a sheet or a file, reporting progress; returns how many rows."""
    done = 0
    if progress_cb is not None:
        progress_cb(0, total)
    async for values in rows:
        append(values)
        done += 1
        if progress_cb is not None and done % PROGRESS_EVERY == 0:
            progress_cb(done, total)
    if progress_cb is not None:
        progress_cb(done, total)
    return done


def _csv_value(value: Any, kind: str) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else value


def csv_header(columns: Sequence[Column]) -> list[str]:
    """One header row: a deliverable's columns are prefixed with its name."""
    return [f"{c.group}: {c.title}" if c.group else c.title for c in columns]


async def write_export(
    *,
    fmt: str,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    output: Path,
    root_path: str | None = None,
    lang: str = "vi",
    progress_cb: ProgressCallback | None = None,
    batch_size: int = 2000,
    approved_only: bool = False,
) -> int:
    """Write the campaign's export of the subtree `root_path` (None: the campaign's whole scope)
    as of `as_of` to `output`: `fmt` "xlsx" the workbook, "csv" the units sheet as one CSV file
    (UTF-8 with BOM, so Excel reads Vietnamese). Returns the number of unit rows.
    `progress_cb(done, total)` is called as unit rows are written. Reads only; the caller owns
    the session."""
    ctx = await load_campaign(session=session, campaign_id=campaign_id, approved_only=approved_only)
    figures = None
    if fmt == "xlsx" or not all(ctx.forms.get(d.id) for d in ctx.deliverables):
        figures = await compute_figures(
            session=session, campaign_id=campaign_id, as_of=as_of, root_path=root_path, context=ctx
        )
    total = await _expected_units(session, ctx, as_of, root_path)
    levels = await level_labels(session, lang)
    carriers: Mapping[str, str] = {} if figures is None else figures.carriers
    blocks = measure_blocks(ctx, carriers, lang)
    columns = unit_columns(blocks, lang)
    reading = Reading(session, ctx, as_of, root_path, lang, levels, batch_size)
    rows = unit_values(reading, blocks)
    if figures is None or fmt != "xlsx":
        with output.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = CsvWriter(handle)
            writer.writerow(csv_header(columns))

            def write(values: list[Any]) -> None:
                cells = [_csv_value(v, c.kind) for v, c in zip(values, columns, strict=True)]
                writer.writerow(cells)

            return await _drain(rows, write, total=total, progress_cb=progress_cb)

    workbook = Workbook(write_only=True)
    write_summary(workbook, figures, lang)
    rollup = await write_rollup(
        workbook, session=session, ctx=ctx, as_of=as_of, root_path=root_path, lang=lang
    )

    units = Sheet(
        workbook,
        t("export.sheet.units", lang),
        columns,
        group_row=True,
        freeze_columns=2,
        numbered=True,
        lang=lang,
    )
    done = await _drain(rows, units.append, total=total, progress_cb=progress_cb)

    missing = Sheet(
        workbook,
        t("export.sheet.missing", lang),
        missing_columns(lang),
        freeze_columns=2,
        numbered=True,
        lang=lang,
    )
    await _drain(missing_values(reading), missing.append)

    shortcomings = Sheet(
        workbook,
        t("export.sheet.shortcomings", lang),
        shortcoming_columns(lang),
        numbered=True,
        lang=lang,
    )
    for item in await find_shortcomings(
        session=session, campaign_id=campaign_id, as_of=as_of, root_path=root_path, context=ctx
    ):
        label = shortcoming_label(item, lang)
        for unit in item.units:
            shortcomings.append(
                [label, unit.code, unit.name, levels.get(unit.level_code, unit.level_code)]
            )

    history = Sheet(
        workbook, t("export.sheet.history", lang), history_columns(lang), numbered=True, lang=lang
    )
    since = await _campaign_start(session, campaign_id, ctx.timezone)
    unit_changes = await unit_history(
        session=session, ctx=ctx, as_of=as_of, root_path=root_path, lang=lang, since=since
    )
    versions = [
        item
        async for item in version_history(
            session=session,
            ctx=ctx,
            as_of=as_of,
            root_path=root_path,
            lang=lang,
            batch_size=batch_size,
        )
    ]
    for _, values in heapq.merge(unit_changes, versions, key=lambda item: item[0]):
        history.append(values)

    for sheet in (rollup, units, missing, shortcomings, history):
        if sheet is not None:
            sheet.finish()
    workbook.save(output)
    return done


write_xlsx = partial(write_export, fmt="xlsx")  # the campaign workbook
write_csv = partial(write_export, fmt="csv")  # the units sheet as one CSV file


__all__ = [
    "Column",
    "csv_header",
    "rate_value",
    "shortcoming_label",
    "write_csv",
    "write_export",
    "write_xlsx",
]
