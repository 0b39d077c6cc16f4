"""`cadrebot people`: import people and roles from CSV/XLSX, list them, remove one."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import common
from storage.clock import system_clock
from storage.i18n import t
from storage.models import Unit
from storage.people import get_person, list_people, remove_person
from storage.people_import import ImportProblem, PeopleImportError, import_people
from storage.sheet_files import SheetFileError, csv_records, main_sheet, open_xlsx
from storage.text_clean import NUL, clean
from storage.unit_lookup import get_unit

app = typer.Typer(no_args_is_help=True, help="Cán bộ, vai trò / people and roles.")

# Header names accepted for each column (lower-cased, stripped).
COLUMN_ALIASES = {
    "name": {"name", "họ tên", "ho ten", "họ và tên"},
    "phone": {"phone", "điện thoại", "dien thoai", "số điện thoại", "sđt"},
    "role": {"role", "vai trò", "vai tro"},
    "units": {"units", "unit", "đơn vị", "don vi", "mã đơn vị"},
}
REQUIRED_COLUMNS = ("name", "role")


class TableFileError(Exception):
    """The file cannot be read as a table (message is for the user)."""


def _column_key(header: object) -> str | None:
    text = str(header or "").strip().lower()
    for key, aliases in COLUMN_ALIASES.items():
        if text in aliases:
            return key
    return None


def _rows_from_matrix(matrix: list[list[Any]]) -> tuple[list[dict[str, object]], list[str]]:
    """First row = header; returns the data rows (with their line number) and missing columns."""
    if not matrix:
        return [], list(REQUIRED_COLUMNS)
    keys = [_column_key(cell) for cell in matrix[0]]
    missing = [column for column in REQUIRED_COLUMNS if column not in keys]
    rows: list[dict[str, object]] = []
    for number, cells in enumerate(matrix[1:], start=2):
        if all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        row: dict[str, object] = {"line": number}
        for key, cell in zip(keys, cells, strict=False):
            if key is not None:
                row[key] = cell
        rows.append(row)
    return rows, missing


def _cleaned(matrix: list[list[Any]]) -> list[list[Any]]:
    """Every text cell through `storage.text_clean`; a NUL refuses the file with its line."""
    for number, cells in enumerate(matrix, start=1):
        for index, cell in enumerate(cells):
            if isinstance(cell, str):
                if NUL in cell:
                    raise SheetFileError("nul", number)
                cells[index] = clean(cell)
    return matrix


def read_table(path: Path) -> tuple[list[dict[str, object]], list[str]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            text = path.read_text(encoding="utf-8-sig")
            first = text.split("\n", 1)[0]
            delimiter = ";" if first.count(";") > first.count(",") else ","
            matrix = [cells for _, cells in csv_records(text, delimiter)]
            return _rows_from_matrix(_cleaned(list(matrix)))
        if suffix == ".xlsx":
            book = open_xlsx(path)
            try:
                sheet = main_sheet(book)
                rows = sheet.iter_rows(values_only=True) if sheet is not None else []
                matrix = [list(row) for row in rows]
            finally:
                book.close()
            return _rows_from_matrix(_cleaned(matrix))
    except SheetFileError as exc:
        key = {"nul": "sheet.error.nul", "field_too_big": "sheet.error.field_too_big"}
        message = t(key.get(exc.reason, "sheet.error.too_big"), "vi", line=exc.line)
        raise TableFileError(message) from None
    except (OSError, UnicodeDecodeError, csv.Error, zipfile.BadZipFile, KeyError) as exc:
        raise TableFileError(t("people.file_unreadable", "vi", path=path, error=exc)) from exc
    raise TableFileError(t("people.file_type", "vi", path=path))


def problem_text(problem: ImportProblem, lang: str = "vi") -> str:
    return t(
        "people.import.line",
        lang,
        line=problem.line,
        message=t(problem.key, lang, **problem.params),
    )


async def unit_by_code(session: AsyncSession, code: str) -> Unit:
    unit = await get_unit(session=session, code=code.strip())
    if unit is None:
        raise common.fail(t("people.unit_not_found", "vi", code=code))
    return unit


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="Tệp CSV/XLSX: name,phone,role,units"),
) -> None:
    """Nhập cán bộ và vai trò từ CSV/XLSX (cột name,phone,role,units)."""
    if not file.exists():
        raise common.fail(t("people.file_not_found", "vi", path=file))
    with common.progress() as bar:
        reading = bar.add_task(t("people.import.reading"), total=None)
        try:
            rows, missing = read_table(file)
        except TableFileError as exc:
            raise common.fail(str(exc)) from None
        bar.update(reading, total=len(rows), completed=len(rows))
        if missing:
            message = t("people.import.error.missing_columns", "vi", columns=", ".join(missing))
            common.err_console.print(t("people.import.line", "vi", line=1, message=message))
            raise common.fail(t("people.import.failed", "vi", count=1))
        if not rows:
            raise common.fail(t("people.import.empty"))
        writing = bar.add_task(t("people.import.writing"), total=len(rows))

        async def _import() -> Any:
            async with common.database() as db, db.write() as session:
                return await import_people(session=session, rows=rows, now=system_clock())

        try:
            result = common.run(_import())
        except PeopleImportError as exc:
            bar.stop()
            for problem in exc.problems:
                common.warn(problem_text(problem))
            lines = len({problem.line for problem in exc.problems})
            raise common.fail(t("people.import.failed", "vi", count=lines)) from None
        bar.update(writing, completed=len(rows))
    common.console.print(
        t(
            "people.import.done",
            "vi",
            rows=len(rows),
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            roles=result.roles_added,
        )
    )


@app.command("list")
def list_command(
    under: str | None = typer.Option(None, "--under", help="Chỉ người có vai trò trong nhánh này"),
) -> None:
    """Liệt kê cán bộ, vai trò và tài khoản chat đã kết nối."""

    async def _list() -> list[Any]:
        async with common.database() as db, db.read() as session:
            path = (await unit_by_code(session, under)).path if under else None
            return await list_people(session=session, under_path=path)

    people = common.run(_list())
    if not people:
        common.console.print(t("people.list.empty"))
        return
    table = Table(title=t("people.list.title"))
    for key in ("id", "name", "phone", "roles", "channels"):
        table.add_column(t(f"people.list.{key}"))
    for person in people:
        roles = "; ".join(
            f"{t(f'people.role.{kind}')} {code or t('people.whole_tree')}"
            for kind, code in person.roles
        )
        table.add_row(
            str(person.id),
            person.full_name,
            person.phone or t("common.dash"),
            roles or t("common.dash"),
            ", ".join(person.channels) or t("common.dash"),
        )
    common.console.print(table)
    common.console.print(t("people.list.count", "vi", count=len(people)))


@app.command("remove")
def remove_command(
    person_id: int = typer.Argument(..., help="Số của người (xem people list)"),
) -> None:
    """Xóa một người: gỡ ngay mọi vai trò và tài khoản chat."""

    async def _remove() -> str | None:
        async with common.database() as db, db.write() as session:
            person = await get_person(session=session, person_id=person_id)
            if person is None:
                return None
            await remove_person(session=session, person_id=person_id, now=system_clock())
            return person.full_name

    name = common.run(_remove())
    if name is None:
        raise common.fail(t("people.remove.not_found", "vi", id=person_id))
    common.console.print(t("people.remove.done", "vi", name=name))
