"""The department's uploads: the unit tree, people and paper reports, through the same storage
import functions as the command line. A file with any bad row writes nothing and comes back as
line-numbered problems; a good one as a summary. An admin of part of the tree touches only their
subtrees: a row for a unit (or a person) outside them is one of those problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.cli.people import TableFileError, read_table
from storage.access import Scope, admin_scope, collapse_paths
from storage.db import Database
from storage.i18n import t
from storage.i18n.formatting import with_figures
from storage.models import CHANNEL_WEB
from storage.people_import import PeopleImportError, import_people
from storage.report_import import ReportImportError, read_tables, validate_reports, write_reports
from storage.unit_import import RowError, UnitImportError, read_units_file
from storage.units import import_units, validate_units

KINDS = ("units", "people", "reports")
SUFFIXES = (".csv", ".xlsx")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    sheet: str | None = None


@dataclass
class Outcome:
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""


def _unit_problems(errors: list[RowError], lang: str) -> list[Problem]:
    unique = {(e.line, e.reason): e for e in errors}
    return [
        Problem(e.line, t(f"units.error.{e.reason}", lang, **e.params))
        for e in sorted(unique.values(), key=lambda e: (e.line, e.reason))
    ]


async def _units(db: Database, path: Path, now: datetime, lang: str, scope: Scope) -> Outcome:
    roots = None if scope.whole_tree else collapse_paths(scope.admin_paths)
    rows, errors = read_units_file(path)
    if errors:
        async with db.read() as session:
            more = await validate_units(session=session, rows=rows, roots=roots)
        return Outcome(_unit_problems(errors + more, lang))
    try:
        async with db.write() as session:
            result = await import_units(
                session=session,
                rows=rows,
                now=now,
                actor_person_id=scope.person_id,
                channel=CHANNEL_WEB,
                roots=roots,
            )
    except UnitImportError as exc:
        return Outcome(_unit_problems(exc.errors, lang))
    return Outcome(
        summary=with_figures(
            "web.upload.units_done",
            lang,
            total=result.total,
            created=result.created,
            updated=result.updated,
            moved=result.moved,
            unchanged=result.unchanged,
        )
    )


async def _people(db: Database, path: Path, now: datetime, lang: str, scope: Scope) -> Outcome:
    try:
        rows, missing = read_table(path)
    except TableFileError:
        return Outcome([Problem(1, t("web.upload.unreadable", lang))])
    if missing:
        columns = ", ".join(missing)
        return Outcome(
            [Problem(1, t("people.import.error.missing_columns", lang, columns=columns))]
        )
    if not rows:
        return Outcome([Problem(1, t("people.import.empty", lang))])
    try:
        async with db.write() as session:
            result = await import_people(
                session=session,
                rows=rows,
                now=now,
                actor_person_id=scope.person_id,
                channel=CHANNEL_WEB,
                scope=scope,
            )
    except PeopleImportError as exc:
        return Outcome([Problem(p.line, t(p.key, lang, **p.params)) for p in exc.problems])
    return Outcome(
        summary=with_figures(
            "web.upload.people_done",
            lang,
            rows=len(rows),
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            roles=result.roles_added,
        )
    )


async def _reports(
    db: Database, path: Path, now: datetime, lang: str, actor: int, campaign_id: int
) -> Outcome:
    try:
        tables = read_tables(path)
        # Checked in a read transaction, as `cadrebot reports import` does, so the write lock the
        # bot's writers need is held only for the write (which refuses a file with problems).
        async with db.read() as session:
            checked = await validate_reports(
                session=session,
                campaign_id=campaign_id,
                tables=tables,
                now=now,
                person_id=actor,
                lang=lang,
            )
        async with db.write() as session:
            summary = await write_reports(session=session, checked=checked, channel=CHANNEL_WEB)
    except ReportImportError as exc:
        return Outcome([Problem(p.line, p.message, p.sheet) for p in exc.problems])
    return Outcome(
        summary=with_figures(
            "web.upload.reports_done",
            lang,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
    )


async def run_upload(
    db: Database,
    kind: str,
    path: Path,
    *,
    now: datetime,
    lang: str,
    scope: Scope,
    campaign_id: int | None = None,
) -> Outcome:
    """Import the saved upload `path` (a .csv or .xlsx file) as `kind`, by the admin whose
    scope is `scope` (only its admin roles count; paper reports check the importer's subtrees
    in `storage.report_import`)."""
    scope = admin_scope(scope)
    if kind == "units":
        return await _units(db, path, now, lang, scope)
    if kind == "people":
        return await _people(db, path, now, lang, scope)
    if campaign_id is None:
        return Outcome([Problem(1, t("web.upload.no_campaign", lang))])
    return await _reports(db, path, now, lang, scope.person_id, campaign_id)
