"""`cadrebot campaign ...`: the built-in template, loading a campaign file, writing a stored
campaign back as one (export), listing campaigns."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from bot.cli import common
from storage.answers import format_date
from storage.campaign_status import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPEN,
    set_campaign_status,
    status_label,
)
from storage.campaigns import (
    TWO_LEVEL_TEMPLATE,
    CampaignDefinition,
    DefinitionError,
    definition_of,
    definition_text,
    deliverable_counts,
    deliverables_of,
    get_campaign,
    list_campaigns,
    load_campaign,
    parse_definition,
    template_for_tree,
    template_text,
)
from storage.clock import local_date, system_clock
from storage.i18n import t
from storage.i18n.formatting import level_label
from storage.models import Level
from storage.units import levels_in_use, list_levels

app = typer.Typer(no_args_is_help=True, help="Đợt học tập, quán triệt / campaigns.")

LANG = "vi"


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def shifted_template(start: date, *, two_level: bool = False) -> str:
    """The built-in file with every date moved by the same number of days, so that the campaign
    starts on `start` and its deadlines keep their distances (not 2016's, all overdue)."""
    text = template_text(two_level=two_level)
    first = parse_definition(text).campaign.start_date
    delta = start - first

    def move(match: re.Match[str]) -> str:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return (day + delta).isoformat()

    return _ISO_DATE.sub(move, text)


@app.command()
def template(
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Ngày bắt đầu đợt (30/9/2026 hoặc 2026-09-30): các hạn được dời theo",
        ),
    ] = None,
    two_level: Annotated[
        bool | None,
        typer.Option(
            "--two-level/--three-level",
            help=(
                "Mô hình hai cấp (tỉnh -> xã, phường; không có cấp huyện) hay ba cấp; không ghi:"
                " chọn theo các cấp của cây đơn vị"
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """In ra tệp mẫu của đợt học tập Nghị quyết XII (print the built-in campaign file), mọi
    ngày được dời để đợt bắt đầu vào ngày --start (bắt buộc: không in hạn năm 2016). Không ghi
    --two-level hay --three-level: mẫu được chọn theo các cấp mà các đơn vị đang dùng."""
    if start is None:
        # The file as written holds 2016's deadlines: loaded as is, every unit would be
        # nudged as overdue at once. The start date is asked for, never assumed.
        raise common.fail(t("campaign.cli.template_needs_start", LANG))
    from bot.cli.figures import parse_day  # lazy: the figures stack is not needed otherwise

    day = parse_day(start)
    if day is None:
        raise common.fail(t("figures.cli.bad_date", LANG, value=start))
    if two_level is None:
        two_level = common.run(_two_level_from_tree())
    typer.echo(shifted_template(day, two_level=two_level), nl=False)


async def _two_level_from_tree() -> bool:
    """Whether the unit tree calls for the two-level file (said on stderr, stdout stays the
    file): the template naming the most of its units' levels; the three-level one when there
    is no unit yet."""
    async with common.database() as db, db.read() as session:
        used = await levels_in_use(session=session)
        levels = [lv for lv in await list_levels(session=session) if lv.code in used]
    chosen = template_for_tree(used)
    if chosen is None:
        common.warn(t("campaign.cli.template_empty_tree", LANG))
        return False
    two_level = chosen == TWO_LEVEL_TEMPLATE
    key = "campaign.cli.template_two_level" if two_level else "campaign.cli.template_three_level"
    common.warn(t(key, LANG, levels=", ".join(level_label(lv, LANG) for lv in levels)))
    return two_level


def _past_deadlines(definition: CampaignDefinition) -> list[date]:
    """Deadlines already over today in the campaign's timezone."""
    today = local_date(system_clock(), definition.campaign.timezone)
    return sorted(
        day for item in definition.deliverables for day in item.deadlines.values() if day < today
    )


@app.command("open")
def open_(campaign: str = typer.Argument(..., help="Số hiệu hoặc mã số của đợt")) -> None:
    """Mở lại một đợt học tập (open a campaign: reminders and digests resume)."""
    _set_status(campaign, CAMPAIGN_OPEN)


@app.command("close")
def close(campaign: str = typer.Argument(..., help="Số hiệu hoặc mã số của đợt")) -> None:
    """Đóng một đợt học tập (close a campaign: no more reminders, digests or new reports)."""
    _set_status(campaign, CAMPAIGN_CLOSED)


def _set_status(wanted: str, status: str) -> None:
    async def _set() -> tuple[str, bool] | None:
        async with common.database() as db, db.write() as session:
            found = await get_campaign(session=session, campaign_id_or_reference=wanted)
            if found is None or found.id is None:
                return None
            change = await set_campaign_status(
                session=session,
                campaign_id=found.id,
                status=status,
                now=system_clock(),
                actor_person_id=None,
                channel="cli",
            )
            return found.reference, bool(change and change.changed)

    result = common.run(_set())
    if result is None:
        raise common.fail(t("figures.cli.unknown_campaign", LANG, campaign=wanted))
    reference, changed = result
    key = f"campaign.cli.{status}" if changed else f"campaign.cli.already_{status}"
    common.say(t(key, LANG, reference=reference))


def _print_problems(file: Path, error: DefinitionError) -> None:
    common.warn(
        t("campaign.cli.invalid", LANG, file=str(file), count=len(error.problems)), soft_wrap=True
    )
    for message in error.messages(LANG):
        common.warn(f"  {message}", soft_wrap=True)


@app.command()
def load(
    file: Path = typer.Argument(..., help="Tệp YAML của đợt học tập"),
    yes: bool = typer.Option(False, "--yes", help="Vẫn nạp khi có hạn báo cáo đã qua"),
) -> None:
    """Nạp (hoặc cập nhật) một đợt học tập từ tệp YAML (load or update a campaign). Nếu có hạn
    đã qua (các đơn vị sẽ bị nhắc là quá hạn ngay), phải thêm --yes."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise common.fail(t("campaign.cli.unreadable", LANG, file=str(file), detail=exc)) from None
    try:
        definition = parse_definition(text)
    except DefinitionError as error:
        _print_problems(file, error)
        raise typer.Exit(1) from None
    past = _past_deadlines(definition)
    if past:
        common.warn(
            t(
                "campaign.cli.past_deadlines",
                LANG,
                count=len(past),
                first=format_date(past[0]),
                last=format_date(past[-1]),
            ),
            soft_wrap=True,
        )
        if not yes:
            raise typer.Exit(1)

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
        common.say(line, soft_wrap=True)


@app.command()
def export(campaign: str = typer.Argument(..., help="Số hiệu hoặc mã số của đợt")) -> None:
    """In ra tệp YAML của một đợt đã nạp hoặc đã sửa trên trang web (export a campaign file),
    để lưu, gửi hoặc nạp lại bằng campaign load."""

    async def _text() -> str | None:
        async with common.database() as db, db.read() as session:
            found = await get_campaign(session=session, campaign_id_or_reference=campaign)
            return None if found is None else definition_text(definition_of(found))

    text = common.run(_text())
    if text is None:
        raise common.fail(t("figures.cli.unknown_campaign", LANG, campaign=campaign))
    typer.echo(text, nl=False)


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
        common.say(t("campaign.cli.empty", LANG))
        return
    table = Table(title=t("campaign.cli.title", LANG))
    for column in ("id", "reference", "name", "status", "start", "deliverables"):
        table.add_column(t(f"campaign.cli.col_{column}", LANG))
    for ident, reference, name, status, start, count in rows:
        label = status_label(status, LANG)
        table.add_row(str(ident), escape(reference), escape(name), label, start, str(count))
    common.console.print(table)
