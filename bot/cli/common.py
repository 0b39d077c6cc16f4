"""What every command shares: settings, the database, async entry, console output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

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

from storage.db import Database
from storage.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[red]Cấu hình sai / invalid setting:[/red] {exc}")
        raise typer.Exit(2) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


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
    """Print a one-line error and return the Exit to raise."""
    err_console.print(f"[red]{message}[/red]")
    return typer.Exit(code)
