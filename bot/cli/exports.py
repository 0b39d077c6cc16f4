"""`cadrebot export` (the campaign workbook or the per-unit CSV) and `cadrebot reports
template|import` (paper reports entered in bulk)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import common
from bot.cli.figures import parse_day
from storage.access import scope_of
from storage.campaigns import get_campaign
from storage.clock import local_date, system_clock
from storage.db import write_estimate
from storage.i18n import t
from storage.i18n.formatting import date_text, number
from storage.models import Campaign, Person
from storage.review import review_basis

if TYPE_CHECKING:
    from storage.report_import import ImportSummary

FORMATS = ("xlsx", "csv")


async def _campaign(session: AsyncSession, wanted: str, lang: str) -> Campaign:
    campaign = await get_campaign(session=session, campaign_id_or_reference=wanted)
    if campaign is None or campaign.id is None:
        raise common.Refused(t("export.cli.unknown_campaign", lang, campaign=wanted))
    return campaign


# ---------------------------------------------------------------------------------------------
# cadrebot export


async def _export(
    *,
    campaign: str,
    under: str | None,
    fmt: str,
    output: Path,
    day: str | None,
    lang: str,
    approved_only: bool = False,
) -> int:
    async with common.database() as db, db.read() as session:
        found = await _campaign(session, campaign, lang)
        assert found.id is not None
        root_path = await common.subtree_path(session, under, lang)
        parsed = None if day is None else parse_day(day)
        if day is not None and parsed is None:
            raise common.Refused(t("export.cli.bad_date", lang, value=day))
        as_of = common.end_of(parsed, found.timezone)
        from bot.export import write_csv, write_xlsx  # openpyxl: only when exporting

        writer = write_xlsx if fmt == "xlsx" else write_csv
        with common.progress() as bar:
            task = bar.add_task(t("export.cli.progress", lang), total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await writer(
                session=session,
                campaign_id=found.id,
                as_of=as_of,
                output=output,
                root_path=root_path,
                lang=lang,
                progress_cb=advance,
                approved_only=approved_only,
            )


def export(
    campaign: common.CampaignOption,
    output: Annotated[Path, typer.Option("--output", help="Tệp sẽ ghi (.xlsx hoặc .csv)")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx hoặc csv")] = "xlsx",
    under: Annotated[
        str | None, typer.Option("--under", help="Chỉ xuất các đơn vị thuộc đơn vị có mã này")
    ] = None,
    as_of: common.AsOfOption = None,
    lang: common.LangOption = "vi",
    approved_only: common.ApprovedOnlyOption = False,
) -> None:
    """Xuất số liệu đợt học tập ra Excel (XLSX) hoặc CSV (export the campaign's figures)."""
    common.check_lang(lang)
    if fmt not in FORMATS:
        raise common.fail(t("export.cli.bad_format", lang, value=fmt))
    count = common.run(
        _export(
            campaign=campaign,
            under=under,
            fmt=fmt,
            output=output,
            day=as_of,
            lang=lang,
            approved_only=approved_only,
        )
    )
    common.say(t("export.cli.written", lang, count=f"{count:,}".replace(",", "."), path=output))
    common.say(review_basis(approved_only, lang))


# ---------------------------------------------------------------------------------------------
# cadrebot reports template | import

reports_app = typer.Typer(
    help="Báo cáo giấy: mẫu nhập và nhập hàng loạt từ Excel/CSV (paper reports).",
    no_args_is_help=True,
)


ReportsCampaignOption = Annotated[
    str | None,
    typer.Option(
        "--campaign",
        help="Số hiệu (13-KH/TU) hoặc mã số của đợt; bỏ trống: đợt duy nhất đang mở",
    ),
]


async def _paper_campaign(session: AsyncSession, wanted: str | None, lang: str) -> Campaign:
    """The campaign named, or without --campaign the one open campaign (said on stderr);
    none or several open: a refusal that lists them."""
    if wanted is not None:
        return await _campaign(session, wanted, lang)
    from storage.campaign_status import open_campaigns

    found = await open_campaigns(session=session)
    if len(found) != 1:
        known = ", ".join(c.reference for c in found) or "—"
        raise common.Refused(t("figures.cli.which_campaign", lang, known=known))
    [campaign] = found
    common.err_console.print(
        t("export.cli.default_campaign", lang, reference=campaign.reference, name=campaign.name),
        soft_wrap=True,
    )
    return campaign


async def _template(*, campaign: str | None, output: Path, lang: str) -> list[str]:
    async with common.database() as db, db.read() as session:
        found = await _paper_campaign(session, campaign, lang)
        assert found.id is not None
        from storage.report_import import write_template  # openpyxl: only for this command

        return await write_template(session=session, campaign_id=found.id, output=output, lang=lang)


@reports_app.command("template")
def template(
    output: Annotated[Path, typer.Option("--output", help="Tệp mẫu sẽ ghi (.xlsx)")],
    campaign: ReportsCampaignOption = None,
    lang: common.LangOption = "vi",
) -> None:
    """Tạo tệp Excel mẫu để nhập báo cáo giấy (write the empty entry workbook)."""
    common.check_lang(lang)
    sheets = common.run(_template(campaign=campaign, output=output, lang=lang))
    named = ", ".join(f"“{title}”" for title in sheets)
    common.say(t("export.cli.template_written", lang, path=output, sheets=named), soft_wrap=True)


async def _check_admin(session: AsyncSession, person_id: int, lang: str) -> None:
    person = await session.get(Person, person_id)
    if person is None or person.forgotten_at is not None:
        raise common.Refused(t("export.cli.unknown_person", lang, person=person_id))
    scope = await scope_of(session=session, person_id=person_id)
    if not scope.is_admin:
        raise common.Refused(t("export.cli.not_admin", lang, person=person_id))


async def _import(
    *, path: Path, campaign: str | None, deliverable: str | None, person_id: int | None, lang: str
) -> tuple[ImportSummary, date]:
    from storage.report_import import read_tables, validate_reports, write_reports

    tables = read_tables(path)
    now = system_clock()
    async with common.database() as db:
        # Checked once, in a read transaction: a refused file never takes the write lock that
        # the running bot's writers (which then wait) need; the write takes what was checked.
        async with db.read() as session:
            found = await _paper_campaign(session, campaign, lang)
            assert found.id is not None
            if person_id is not None:
                await _check_admin(session, person_id, lang)
            checked = await validate_reports(
                session=session,
                campaign_id=found.id,
                tables=tables,
                now=now,
                deliverable=deliverable,
                person_id=person_id,
                lang=lang,
            )
        checked.refuse()
        rows = len(checked.rows)
        seconds = write_estimate("reports", rows)
        common.err_console.print(
            t("db.write_notice", lang, count=number(rows, lang), seconds=seconds)
        )
        async with db.write() as session:
            summary = await write_reports(session=session, checked=checked)
        return summary, local_date(now, found.timezone)


@reports_app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="Tệp .xlsx hoặc .csv")],
    campaign: ReportsCampaignOption = None,
    deliverable: Annotated[
        str | None,
        typer.Option("--deliverable", help="Mã nội dung báo cáo (tệp CSV một nội dung)"),
    ] = None,
    person: Annotated[
        int | None, typer.Option("--as", help="Mã số quản trị viên nhập (ghi vào lịch sử)")
    ] = None,
    lang: common.LangOption = "vi",
) -> None:
    """Nhập báo cáo giấy từ Excel/CSV: kiểm tra như khi báo cáo qua chat; có dòng sai thì không
    ghi gì và liệt kê mọi dòng sai (import paper reports)."""
    common.check_lang(lang)
    if not path.is_file():
        raise common.fail(t("export.cli.no_file", lang, path=path))
    from storage.report_import import ReportImportError  # openpyxl: only for this command

    try:
        summary, today = common.run(
            _import(
                path=path, campaign=campaign, deliverable=deliverable, person_id=person, lang=lang
            )
        )
    except ReportImportError as error:
        common.warn(t("export.cli.import_failed", lang, count=len(error.problems)), style="red")
        for message in error.messages(lang):
            common.warn(message)
        raise typer.Exit(1) from None
    common.say(
        t(
            "export.cli.import_done",
            lang,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
    )
    for note in summary.notes:  # columns, sheets and rows left unread: said, not refused
        common.say(note, soft_wrap=True)
    undated = sum(1 for row in summary.rows if row.reported_on is None)
    if undated:
        # A paper report counts as of the date written on it; without one, the import day.
        common.say(
            t("export.cli.import_undated", lang, count=undated, date=date_text(today, lang)),
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add `export` and the `reports` group to the `cadrebot` application."""
    app.command("export")(export)
    app.add_typer(reports_app, name="reports")
