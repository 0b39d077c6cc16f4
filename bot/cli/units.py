"""`cadrebot units`: import the unit tree from CSV/XLSX, list it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from bot.cli import common
from storage.clock import system_clock
from storage.db import write_estimate
from storage.i18n import t
from storage.unit_import import RowError, UnitImportError, UnitRow, read_units_file
from storage.units import (
    ImportResult,
    UnitNotFound,
    import_units,
    list_levels,
    subtree_units,
    validate_units,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Cây đơn vị: nhập từ CSV/XLSX, xem danh sách. / Unit tree: import, list.",
)


def number(value: int) -> str:
    """Vietnamese thousands: 1.234."""
    return f"{value:,}".replace(",", ".")


def describe(error: RowError, lang: str = "vi") -> str:
    """`Dòng 17: …` for one bad row."""
    message = t(f"units.error.{error.reason}", lang, **error.params)
    return t("units.error.line", lang, line=error.line, message=message)


class _LazyProgress:
    """A progress bar that appears only once writing starts (not for a file that is refused)."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if not total:
                return
            self.bar = common.progress()
            self.bar.start()
            self.task = self.bar.add_task(t("units.import.writing"), total=total)
        assert self.task is not None
        self.bar.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


async def _import(rows: list[UnitRow], errors: list[RowError]) -> ImportResult | list[RowError]:
    async with common.database() as db:
        if errors:
            # The file is refused already; still list the tree problems so one pass fixes all.
            async with db.read() as session:
                more = await validate_units(session=session, rows=rows)
            return sorted(_keyed(errors + more).values(), key=lambda e: (e.line, e.reason))
        # The tree is checked in a read transaction first: a refused file never takes the write
        # lock that the running bot's writers (which then wait) need.
        async with db.read() as session:
            problems = await validate_units(session=session, rows=rows)
        if problems:
            return sorted(_keyed(problems).values(), key=lambda e: (e.line, e.reason))
        common.err_console.print(
            t(
                "db.write_notice",
                count=number(len(rows)),
                seconds=write_estimate("units", len(rows)),
            )
        )
        bar = _LazyProgress()
        try:
            async with db.write() as session:
                return await import_units(
                    session=session, rows=rows, now=system_clock(), progress=bar
                )
        except UnitImportError as exc:
            return exc.errors
        finally:
            bar.stop()


def _keyed(errors: list[RowError]) -> dict[tuple[int, str], RowError]:
    return {(e.line, e.reason): e for e in errors}


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Tệp CSV (UTF-8) hoặc XLSX / CSV or XLSX file")],
) -> None:
    """Nhập hoặc cập nhật cây đơn vị (code,name,level,parent_code,members). / Import units."""
    common.settings()
    if not file.is_file():
        raise common.fail(t("units.import.file_missing", path=str(file)))
    rows, errors = read_units_file(file)
    outcome = common.run(_import(rows, errors))
    if isinstance(outcome, list):
        common.err_console.print(t("units.import.failed", count=number(len(outcome))), style="red")
        for error in outcome:
            common.warn(describe(error), soft_wrap=True)
        raise typer.Exit(1)
    common.console.print(
        t(
            "units.import.summary",
            total=number(outcome.total),
            created=number(outcome.created),
            updated=number(outcome.updated),
            moved=number(outcome.moved),
            unchanged=number(outcome.unchanged),
        )
    )


async def _list(
    under: str | None, depth: int | None, everything: bool
) -> tuple[Table | None, bool]:
    async with common.database() as db, db.read() as session:
        try:
            units = await subtree_units(
                session=session, root_code=under, active_only=not everything
            )
        except UnitNotFound:
            return None, False
        labels = {level.code: level.label_vi for level in await list_levels(session=session)}
    if not units:
        return None, True
    top = min(u.depth for u in units)
    if depth is not None:
        units = [u for u in units if u.depth - top <= depth]
    table = Table(title=t("units.list.title", count=number(len(units))))
    table.add_column(t("units.list.code"), no_wrap=True)
    table.add_column(t("units.list.name"))
    table.add_column(t("units.list.level"))
    table.add_column(t("units.list.members"), justify="right")
    for unit in units:
        name = "  " * (unit.depth - top) + unit.name
        if not unit.active:
            name += f" ({t('units.list.inactive')})"
        table.add_row(
            unit.code, name, labels.get(unit.level_code, unit.level_code), number(unit.members)
        )
    return table, True


@app.command("list")
def list_command(
    under: Annotated[
        str | None, typer.Option("--under", help="Chỉ đơn vị này và cấp dưới / only this subtree")
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--depth", help="Số cấp hiển thị bên dưới / levels shown below")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Cả đơn vị ngừng hoạt động / include inactive units")
    ] = False,
) -> None:
    """Xem cây đơn vị. / List the unit tree."""
    common.settings()
    table, found = common.run(_list(under, depth, everything))
    if not found:
        raise common.fail(t("units.list.not_found", code=under or ""))
    if table is None:
        common.console.print(t("units.list.empty"))
        return
    common.console.print(table)
