"""`cadrebot campaign ...`: the built-in template, loading a campaign file, listing campaigns."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from bot.cli import common
from bot.i18n import t
from storage.answers import format_date
from storage.campaigns import (
    DefinitionError,
    deliverable_counts,
    deliverables_of,
    get_campaign,
    list_campaigns,
    load_campaign,
    parse_definition,
    template_text,
)
from storage.clock import system_clock
from storage.models import Level

app = typer.Typer(no_args_is_help=True, help="Đợt học tập, quán triệt / campaigns.")

LANG = "vi"


@app.command()
def template() -> None:
    """In ra tệp mẫu của đợt học tập Nghị quyết XII (print the built-in campaign file)."""
    typer.echo(template_text(), nl=False)


def _print_problems(file: Path, error: DefinitionError) -> None:
    common.err_console.print(
        t("campaign.cli.invalid", LANG, file=str(file), count=len(error.problems)),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for message in error.messages(LANG):
        common.err_console.print(f"  {message}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def load(file: Path = typer.Argument(..., help="Tệp YAML của đợt học tập")) -> None:
    """Nạp (hoặc cập nhật) một đợt học tập từ tệp YAML (load or update a campaign)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise common.fail(t("campaign.cli.unreadable", LANG, file=str(file), detail=exc)) from None
    try:
        definition = parse_definition(text)
    except DefinitionError as error:
        _print_problems(file, error)
        raise typer.Exit(1) from None

    async def _load() -> list[str]:
        async with common.database() as db:
            async with db.write() as session:
                before = await get_campaign(
                    session=session, campaign_id_or_reference=definition.campaign.reference
                )
                campaign = await load_campaign(
                    session=session, definition=definition, now=system_clock(), channel="cli"
                )
                assert campaign.id is not None
                levels = {
                    level.code: level.label_vi
                    for level in (await session.execute(select(Level))).scalars()
                }
                rows = await deliverables_of(session=session, campaign_id=campaign.id)
            key = "campaign.cli.created" if before is None else "campaign.cli.updated"
            lines = [
                t(
                    key,
                    LANG,
                    reference=campaign.reference,
                    name=campaign.name,
                    start=format_date(campaign.start_date),
                    id=campaign.id,
                )
            ]
            for deliverable, form, deadlines in rows:
                due = ", ".join(
                    f"{levels.get(level, level)} {format_date(day)}"
                    for level, day in deadlines.items()
                )
                lines.append(
                    t(
                        "campaign.cli.deliverable",
                        LANG,
                        name=deliverable.name_vi,
                        key=deliverable.key,
                        fields=len(form.fields),
                        deadlines=due,
                    )
                )
            return lines

    try:
        summary = common.run(_load())
    except DefinitionError as error:
        _print_problems(file, error)
        raise typer.Exit(1) from None
    for line in summary:
        common.console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("list")
def list_() -> None:
    """Danh sách các đợt học tập (list campaigns)."""

    async def _list() -> tuple[list[tuple[int, str, str, str, str, int]], bool]:
        async with common.database() as db, db.read() as session:
            campaigns = await list_campaigns(session=session)
            counts = await deliverable_counts(session=session)
        rows = [
            (
                campaign.id or 0,
                campaign.reference,
                campaign.name,
                campaign.status,
                format_date(campaign.start_date),
                counts.get(campaign.id or 0, 0),
            )
            for campaign in campaigns
        ]
        return rows, bool(rows)

    rows, any_rows = common.run(_list())
    if not any_rows:
        common.console.print(t("campaign.cli.empty", LANG), markup=False)
        return
    table = Table(title=t("campaign.cli.title", LANG))
    for column in ("id", "reference", "name", "status", "start", "deliverables"):
        table.add_column(t(f"campaign.cli.col_{column}", LANG))
    for ident, reference, name, status, start, count in rows:
        try:
            status_label = t(f"campaign.status.{status}", LANG)
        except KeyError:
            status_label = status
        table.add_row(str(ident), escape(reference), escape(name), status_label, start, str(count))
    common.console.print(table)
