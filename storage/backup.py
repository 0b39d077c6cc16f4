"""Online backup and checked restore of the SQLite database (`cadrebot backup`, `cadrebot restore`).

Backup: the SQLite backup API copies the database page by page while the bot keeps running. The
source connection first opens a read transaction and keeps it for the whole copy, so every step
reads the same snapshot (WAL mode: writers are not blocked, and the copy never restarts however
busy the bot is): the copy holds exactly the transactions committed before the backup started.
It is written to a temporary file beside the destination and renamed into place when complete.

Restore: the file is checked first (PRAGMA integrity_check, an Alembic revision this program
knows, the tables of that revision), then installed: the current database is kept as
`<name>.<UTC time>.bak` (`cadrebot.db.20261203T101500Z.bak`: a consistent copy, its WAL
included; each restore keeps its own, a second restore never overwrites the first), the backup
is copied to a temporary file beside it, stale `-wal`/`-shm` files are removed and the copy is
renamed over the database (one atomic rename). A database in use (some process has it open) is
refused unless forced.

PostgreSQL is backed up with `pg_dump -Fc` and restored with `pg_restore` (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from storage.clock import require_aware
from storage.migrate import alembic_config, head_revision
from storage.models import metadata

STEP_PAGES = 256
Progress = Callable[[int, int], None]  # (pages copied, total pages)


class NotSQLite(Exception):
    """The database URL is not a SQLite file (PostgreSQL: use pg_dump)."""


class BackupProblem(StrEnum):
    """Why a file cannot be restored (each has a sentence in the ops catalog)."""

    MISSING = "missing"
    NOT_SQLITE = "not_sqlite"
    CORRUPT = "corrupt"
    NO_VERSION = "no_version"
    UNKNOWN_VERSION = "unknown_version"
    MISSING_TABLES = "missing_tables"


@dataclass(frozen=True)
class BackupCheck:
    problem: BackupProblem | None
    revision: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def needs_upgrade(self) -> bool:
        """A known but older revision: `cadrebot init` upgrades it after the restore."""
        return self.ok and self.revision != head_revision()


class DatabaseInUse(Exception):
    """Some process has the target database open."""


class RestoreRefused(Exception):
    def __init__(self, check: BackupCheck) -> None:
        super().__init__(f"{check.problem}: {check.detail}")
        self.check = check


@dataclass(frozen=True)
class RestoreResult:
    target: Path
    previous: Path | None  # where the replaced database was kept (None: there was none)
    revision: str | None
    needs_upgrade: bool


def sqlite_path(url: str) -> Path:
    """The file behind a SQLite URL; NotSQLite for anything else (or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise NotSQLite(parsed.get_backend_name())
    if parsed.database == ":memory:":
        raise NotSQLite("memory")
    return Path(parsed.database)


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform lets a directory be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy(source: Path, destination: Path, *, pages: int, progress: Progress | None) -> None:
    """Consistent page-by-page copy of `source` into a new file `destination` (one snapshot)."""
    src = sqlite3.connect(source, isolation_level=None, timeout=15)
    try:
        # One read transaction across all the steps: each step sees the same snapshot.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        dst = sqlite3.connect(destination, isolation_level=None)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=pages, progress=step)
            # The copy is a standalone file: no WAL beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
        src.execute("COMMIT")
    finally:
        src.close()
    with destination.open("rb") as handle:
        os.fsync(handle.fileno())


def _temporary(beside: Path, label: str) -> Path:
    path = beside.with_name(f".{beside.name}.{label}-{os.getpid()}")
    for extra in (path, *_sidecars(path)):
        extra.unlink(missing_ok=True)
    return path


def backup_sqlite(
    source: Path, destination: Path, *, pages: int = STEP_PAGES, progress: Progress | None = None
) -> int:
    """Copy the live database `source` to `destination` (replaced if it exists); returns the
    size in bytes. Blocking: run it in a thread (`asyncio.to_thread`)."""
    if not source.exists():
        raise FileNotFoundError(source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = _temporary(destination, "partial")
    try:
        _copy(source, partial, pages=pages, progress=progress)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    _fsync_dir(destination.parent)
    return destination.stat().st_size


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


def check_backup(path: Path) -> BackupCheck:
    """Is `path` a sound cadrebot SQLite database this program can use?"""
    if not path.is_file():
        return BackupCheck(BackupProblem.MISSING)
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            return BackupCheck(BackupProblem.NOT_SQLITE)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return BackupCheck(BackupProblem.CORRUPT, detail=str(exc))
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if verdict != ["ok"]:
            return BackupCheck(BackupProblem.CORRUPT, detail="; ".join(map(str, verdict[:5])))
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "alembic_version" not in tables:
            return BackupCheck(BackupProblem.NO_VERSION)
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError as exc:
        return BackupCheck(BackupProblem.CORRUPT, detail=str(exc))
    finally:
        conn.close()
    if len(versions) != 1:
        return BackupCheck(BackupProblem.NO_VERSION)
    [revision] = versions
    if revision not in known_revisions():
        return BackupCheck(BackupProblem.UNKNOWN_VERSION, revision=revision, detail=revision)
    if revision == head_revision():
        missing = sorted(set(metadata.tables) - tables)
        if missing:
            return BackupCheck(
                BackupProblem.MISSING_TABLES, revision=revision, detail=", ".join(missing)
            )
    return BackupCheck(None, revision=revision)


def in_use(path: Path) -> bool:
    """True when some connection (this process or another) has the database open: every
    WAL-mode connection holds a shared lock that an exclusive-mode reader cannot get past."""
    if not path.exists():
        return False
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
    return False


def kept_copy_path(target: Path, now: datetime) -> Path:
    """Where a restore at `now` keeps the database it replaces: never an existing file."""
    stamp = require_aware(now).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = target.with_name(f"{target.name}.{stamp}.bak")
    number = 1
    while candidate.exists():
        number += 1
        candidate = target.with_name(f"{target.name}.{stamp}-{number}.bak")
    return candidate


def restore_sqlite(
    source: Path,
    target: Path,
    *,
    now: datetime,
    force: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Check `source` and install it as the database `target` (see the module docstring); the
    replaced database is kept at `kept_copy_path(target, now)`.

    Raises RestoreRefused when the file fails the check, DatabaseInUse when `target` is open
    somewhere and `force` is not given."""
    check = check_backup(source)
    if not check.ok:
        raise RestoreRefused(check)
    if source.resolve() == target.resolve():
        raise RestoreRefused(BackupCheck(BackupProblem.MISSING, detail="source is the target"))
    if not force and in_use(target):
        raise DatabaseInUse(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    previous: Path | None = None
    if target.exists():
        previous = kept_copy_path(target, now)
        try:
            backup_sqlite(target, previous)
        except sqlite3.DatabaseError:  # not a readable database: keep its bytes as they are
            shutil.copy2(target, previous)
    incoming = _temporary(target, "restore")
    try:
        _copy(source, incoming, pages=STEP_PAGES, progress=progress)
        for stale in _sidecars(target):
            stale.unlink(missing_ok=True)
        os.replace(incoming, target)
    finally:
        incoming.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return RestoreResult(
        target=target,
        previous=previous,
        revision=check.revision,
        needs_upgrade=check.needs_upgrade,
    )
