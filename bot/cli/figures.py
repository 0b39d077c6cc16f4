"""`cadrebot report`: the draft written report (the article's paragraph) from the data, printed
or written as a Party document (`--format docx`, `bot.report_docx`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import common
from bot.report_draft import Draft, draft_report
from storage.campaign_status import open_condition
from storage.figures import CAMPAIGN, LEVEL
from storage.i18n import t
from storage.organisation import organisation, organisation_name
from storage.settings import Settings

FORMATS = ("text", "docx")


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


@dataclass(frozen=True)
class _Asked:
    campaign: str | None
    under: str | None
    day: date | None
    groups: list[tuple[str, ...]]
    lang: str
    approved_only: bool = False


async def _report(asked: _Asked, settings: Settings) -> Draft:
    async with common.database(settings) as db, db.read() as session:
        campaign_id, tz = await _campaign(session, asked.campaign)
        root_path = await common.subtree_path(session, asked.under, "vi")
        known = list((await session.execute(select(LEVEL.c.code).order_by(LEVEL.c.rank))).scalars())
        for code in (c for group in asked.groups for c in group):
            if code not in known:
                raise common.Refused(
                    t("figures.cli.unknown_level", "vi", code=code, known=", ".join(known))
                )
        return await draft_report(
            session=session,
            campaign_id=campaign_id,
            as_of=common.end_of(asked.day, tz),
            organisation=organisation_name(settings, asked.lang),
            lang=asked.lang,
            root_path=root_path,
            groups=asked.groups,
            approved_only=asked.approved_only,
        )


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
    fmt: Annotated[
        str,
        typer.Option("--format", help="text (mặc định: in ra màn hình) hoặc docx (văn bản Word)"),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Ghi vào tệp này (docx: mặc định bao-cao-NGÀY.docx)"),
    ] = None,
    number: Annotated[
        str,
        typer.Option("--number", help="Số văn bản (docx), ví dụ 125; bỏ trống: để trống để điền"),
    ] = "",
) -> None:
    """Viết đoạn báo cáo kết quả học tập, quán triệt từ số liệu (draft the written report)."""
    common.check_lang(lang)
    day = None
    if as_of is not None:
        day = parse_day(as_of)
        if day is None:
            raise common.fail(t("figures.cli.bad_date", "vi", value=as_of))
    if fmt not in FORMATS:
        raise common.fail(t("figures.cli.bad_format", "vi", value=fmt, known=", ".join(FORMATS)))
    number = number.strip()
    if number and not (number.isascii() and number.isdigit() and len(number) <= 6):
        raise common.fail(t("figures.cli.bad_number", "vi", value=number))
    asked = _Asked(campaign, under, day, parse_groups(levels or []), lang, approved_only)
    settings = common.settings()
    draft = common.run(_report(asked, settings))
    if fmt == "text" and output is None:
        typer.echo(draft.text)
        return
    if fmt == "text":
        body = (draft.text + "\n").encode("utf-8")
    else:
        from bot.report_docx import report_docx  # python-docx: only for this format

        output = output or Path(f"bao-cao-{draft.day.isoformat()}.docx")
        body = report_docx(
            draft, organisation=organisation(settings, lang), number=number, lang=lang
        )
    assert output is not None
    try:
        output.write_bytes(body)
    except OSError:
        raise common.fail(t("figures.cli.cannot_write", "vi", path=str(output))) from None
    typer.echo(t("figures.cli.written", "vi", path=str(output)))


def register(app: typer.Typer) -> None:
    """Add `report` to the `cadrebot` application."""
    app.command("report")(report)
