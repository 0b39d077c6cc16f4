"""What every command shares: settings, the database, async entry, console output, and the
options several commands take."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import end_of_day, system_clock
from storage.db import Database
from storage.i18n import LANGUAGES, t
from storage.settings import Settings, SettingsError, load_settings
from storage.unit_lookup import get_unit

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[red]Cấu hình sai / invalid setting:[/red] {exc}")
        raise typer.Exit(2) from None


class Refused(Exception):
    """A one-line message for the operator (already translated): `run` ends the command with it
    (exit status 1)."""


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except Refused as refused:
        raise fail(str(refused)) from None


@asynccontextmanager
async def database(config: Settings | None = None) -> AsyncIterator[Database]:
    """Open the configured database and always dispose of it (aiosqlite keeps the process
    alive otherwise)."""
    db = Database.from_url((config or settings()).database_url)
    try:
        yield db
    finally:
        await db.dispose()


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error (in red, as written: never read as markup) and return the Exit to
    raise."""
    err_console.print(message, markup=False, highlight=False, style="red")
    return typer.Exit(code)


def check_lang(lang: str) -> None:
    """Stop (in Vietnamese) on a `--lang` the catalogs do not have."""
    if lang not in LANGUAGES:
        raise fail(t("export.cli.bad_lang", "vi", value=lang))


def say(text: str, *, soft_wrap: bool = False) -> None:
    """One line for the operator on stdout, printed as written (catalog texts are not markup)."""
    console.print(text, markup=False, highlight=False, soft_wrap=soft_wrap)


def warn(text: str, *, style: str | None = None, soft_wrap: bool = False) -> None:
    """`say` on stderr (problems, notices, progress remarks)."""
    err_console.print(text, markup=False, highlight=False, style=style, soft_wrap=soft_wrap)


async def subtree_path(session: AsyncSession, code: str | None, lang: str) -> str | None:
    """The tree path of `--under CODE` (None: the whole tree); an unknown code is refused."""
    if not code:
        return None
    unit = await get_unit(session=session, code=code)
    if unit is None:
        raise Refused(t("export.cli.unknown_unit", lang, code=code))
    return unit.path


def end_of(day: date | None, timezone: str) -> datetime:
    """Figures "as of" a day: the end of that local day (inclusive); no day: the present."""
    if day is None:
        return system_clock()
    return end_of_day(day, timezone) - timedelta(microseconds=1)


# --- options several commands take ------------------------------------------------------------

CampaignOption = Annotated[
    str, typer.Option("--campaign", help="Số hiệu (13-KH/TU) hoặc mã số của đợt học tập")
]
LangOption = Annotated[str, typer.Option("--lang", help="vi hoặc en")]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Số liệu đến hết ngày này (30/9/2016 hoặc 2016-09-30)"),
]
ApprovedOnlyOption = Annotated[
    bool, typer.Option("--approved-only", help="Chỉ tính các báo cáo đã được duyệt")
]
