"""Operations commands: `cadrebot backup FILE`, `cadrebot restore FILE [--force]` and
`cadrebot people forget ID`.

`register(app)` adds backup and restore to the main app; `register_people(people_app)` adds
forget to the `people` group."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from bot.cli import common
from storage.backup import (
    DatabaseInUse,
    NotSQLite,
    RestoreRefused,
    backup_sqlite,
    restore_sqlite,
    sqlite_path,
)
from storage.clock import system_clock
from storage.evidence import remove_unreferenced
from storage.forget import ForgetResult, forget_person
from storage.i18n import t
from storage.models import CHANNEL_CLI


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    return f"{max(1, round(size / 1024))} KB"


def libpq_url(url: str) -> str:
    """The URL as pg_dump / pg_restore take it (no async driver, password hidden)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=True)


def _database_file(postgres_key: str) -> Path:
    url = common.settings().database_url
    try:
        return sqlite_path(url)
    except NotSQLite:
        raise common.fail(t(postgres_key, "vi", url=libpq_url(url)), code=2) from None


async def backup_database(source: Path, destination: Path) -> int:
    """The online copy, in a worker thread (never blocks an event loop)."""
    with common.progress() as bar:
        task = bar.add_task(t("ops.backup.copying"), total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return await asyncio.to_thread(backup_sqlite, source, destination, progress=report)


def backup_command(
    file: Path = typer.Argument(..., help="Tệp sao lưu (sẽ bị ghi đè nếu đã có)"),
) -> None:
    """Sao lưu cơ sở dữ liệu SQLite ra một tệp trong khi trợ lý vẫn chạy."""
    source = _database_file("ops.backup.postgres")
    if not source.exists():
        raise common.fail(t("ops.backup.source_missing", "vi", path=source))
    try:
        size = common.run(backup_database(source, file))
    except OSError as exc:
        raise common.fail(t("ops.backup.failed", "vi", error=exc)) from None
    common.console.print(t("ops.backup.done", "vi", path=file, size=_size(size)))


def restore_command(
    file: Path = typer.Argument(..., help="Tệp sao lưu do «cadrebot backup» tạo"),
    force: bool = typer.Option(False, "--force", help=t("ops.restore.force_help")),
) -> None:
    """Kiểm tra một bản sao lưu SQLite rồi cài nó làm cơ sở dữ liệu (bản cũ giữ lại đuôi .bak)."""
    target = _database_file("ops.restore.postgres")
    try:
        with common.progress() as bar:
            task = bar.add_task(t("ops.restore.copying"), total=None)
            result = restore_sqlite(
                file,
                target,
                force=force,
                now=system_clock(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except RestoreRefused as exc:
        problem = exc.check.problem
        reason = t(f"ops.restore.problem.{problem}", "vi", detail=exc.check.detail)
        raise common.fail(t("ops.restore.refused", "vi", path=file, reason=reason)) from None
    except DatabaseInUse:
        raise common.fail(t("ops.restore.in_use", "vi", path=target)) from None
    common.console.print(
        t("ops.restore.done", "vi", path=target, source=file, revision=result.revision)
    )
    if result.previous is not None:
        common.console.print(t("ops.restore.kept", "vi", path=result.previous))
    if result.needs_upgrade:
        common.console.print(t("ops.restore.upgrade", "vi"))


def forget_command(
    person_id: int = typer.Argument(..., help=t("ops.forget.id_help")),
) -> None:
    """Xóa hẳn dữ liệu cá nhân của một người; báo cáo của đơn vị được giữ, ghi «đã xóa»."""

    config = common.settings()

    async def _forget() -> ForgetResult:
        async with common.database(config) as db:
            async with db.write() as session:
                result = await forget_person(
                    session=session, person_id=person_id, now=system_clock(), channel=CHANNEL_CLI
                )
            async with db.read() as session:  # the files only once the rows are gone for good
                await remove_unreferenced(
                    session=session,
                    folder=Path(config.evidence_dir),
                    hashes=list(result.evidence_hashes),
                )
            return result

    result = common.run(_forget())
    if not result.found:
        raise common.fail(t("ops.forget.not_found", "vi", id=person_id))
    common.console.print(t("ops.forget.done", "vi", id=person_id, **result.counts()))
    if result.evidence_removed:
        common.console.print(t("ops.forget.evidence", "vi", files=result.evidence_removed))


def register(app: typer.Typer) -> None:
    app.command("backup", help=t("ops.backup.help"))(backup_command)
    app.command("restore", help=t("ops.restore.help"))(restore_command)


def register_people(people_app: typer.Typer) -> None:
    people_app.command("forget", help=t("ops.forget.help"))(forget_command)
