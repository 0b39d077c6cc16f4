"""What an invite looks like on paper and on a phone: its QR code (a PNG of the Telegram deep
link), the Zalo line (Zalo has no deep link: the person sends the code to the bot), and the
printable sheet of bulk invites (XLSX, one row per invite with its QR image, set up for A4) or
the CSV of links.

Heavy libraries (segno, openpyxl) are imported inside the functions: `cadrebot --help` and the
bot's start-up do not pay for them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.i18n import t
from storage.invite_bulk import BulkInvite
from storage.invites import invite_link
from storage.sheets import CsvWriter, make_text

QR_SCALE = 4  # pixels per module: a version-3 code is 29 modules + 2x4 quiet zone = 148 px
QR_BORDER = 4
QR_ROW_HEIGHT = 116  # points: the 148-pixel image (111 pt) with a margin
COLUMNS = ("stt", "unit_code", "unit_name", "person", "code", "link", "zalo", "qr")
WIDTHS = (5, 12, 28, 22, 14, 30, 34, 22)


@dataclass(frozen=True)
class SheetRow:
    unit_code: str
    unit_name: str
    level: str
    role: str
    person_name: str | None
    code: str
    link: str
    expires: str


def sheet_rows(
    invites: Iterable[BulkInvite],
    *,
    levels: Mapping[str, str],
    role: str,
    bot_username: str,
    expires: str,
) -> list[SheetRow]:
    """One row per bulk invite; `levels`: each level code's label (a code without one is shown
    as it is), `role` and `expires` as the sheet writes them."""
    return [
        SheetRow(
            unit_code=item.unit.code,
            unit_name=item.unit.name,
            level=levels.get(item.unit.level_code, item.unit.level_code),
            role=role,
            person_name=item.person_name,
            code=item.code,
            link=invite_link(bot_username, item.code),
            expires=expires,
        )
        for item in invites
    ]


def qr_png(link: str, *, scale: int = QR_SCALE) -> bytes:
    """The QR code of `link` as a PNG (error correction M: still reads when a printed sheet is
    creased or smudged)."""
    import segno

    out = io.BytesIO()
    segno.make(link, error="m", micro=False).save(out, kind="png", scale=scale, border=QR_BORDER)
    return out.getvalue()


def zalo_line(code: str, lang: str = "vi") -> str:
    """The instruction for Zalo, which has no deep link: send the code to the bot."""
    return t("invite.zalo_line", lang, code=code)


def write_csv(path: Path, rows: Sequence[SheetRow], lang: str = "vi") -> None:
    """The CSV of links (UTF-8 with BOM, so Excel shows the diacritics; fields neutralised for
    formulas by `storage.sheets`)."""
    keys = ("unit_code", "unit_name", "level", "role", "person", "code", "link", "expires", "zalo")
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = CsvWriter(f)
        writer.writerow([t(f"invite.csv.{key}", lang) for key in keys])
        for row in rows:
            writer.writerow(
                [
                    row.unit_code,
                    row.unit_name,
                    row.level,
                    row.role,
                    row.person_name or "",
                    row.code,
                    row.link,
                    row.expires,
                    zalo_line(row.code, lang),
                ]
            )


def write_sheet(path: Path, rows: Sequence[SheetRow], *, title: str, lang: str = "vi") -> None:
    """The printable sheet: a title, a header row repeated on every page, one row per invite
    with its QR image in the last column; A4 landscape, fitted to the page width."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = t("invite.sheet.name", lang)[:31]
    wrap = Alignment(wrap_text=True, vertical="center")

    def put(row: int, column: int, value: object) -> None:
        cell = sheet.cell(row=row, column=column)
        if isinstance(value, str):
            make_text(cell, value)  # text stays text: a name starting with "=" is no formula
        else:
            cell.value = value
        cell.alignment = wrap

    put(1, 1, title)
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    for column, key in enumerate(COLUMNS, start=1):
        put(2, column, t(f"invite.sheet.{key}", lang))
        sheet.cell(row=2, column=column).font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = WIDTHS[column - 1]
    for index, row in enumerate(rows, start=1):
        line = index + 2
        values = (
            index,
            row.unit_code,
            row.unit_name,
            row.person_name or t("invite.sheet.nobody", lang),
            row.code,
            row.link,
            zalo_line(row.code, lang),
        )
        for column, value in enumerate(values, start=1):
            put(line, column, value)
        sheet.cell(row=line, column=5).font = Font(bold=True, size=12, name="Consolas")
        image = Image(io.BytesIO(qr_png(row.link)))
        sheet.add_image(image, f"{get_column_letter(len(COLUMNS))}{line}")
        sheet.row_dimensions[line].height = QR_ROW_HEIGHT

    sheet.print_title_rows = "2:2"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.gridLines = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5
    sheet.oddFooter.center.text = t("invite.sheet.footer", lang)
    book.save(path)
