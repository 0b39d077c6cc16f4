"""The XLSX template: one sheet per deliverable, keys and labels, an instructions sheet."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession

from storage.campaigns import deliverables_of
from storage.forms import (
    FieldType,
    FormField,
)
from storage.i18n import t
from storage.i18n.formatting import date_text, name_in
from storage.models import Campaign
from storage.report_import.tables import UNIT_CODE, UNIT_NAME
from storage.sheets import append_row

# ---------------------------------------------------------------------------------------------
# The template


_BOLD = Font(bold=True)
_KEY_FILL = PatternFill("solid", fgColor="EDEDED")
_LABEL_FILL = PatternFill("solid", fgColor="DDEBF7")


def _format_hint(item: FormField, lang: str) -> str:
    if item.type == FieldType.CHOICE:
        options = "; ".join(c.label(lang) for c in item.choices)
        return t("export.template.hint.choice", lang, options=options)
    return t(f"export.template.hint.{item.type.value}", lang)


async def write_template(
    *, session: AsyncSession, campaign_id: int, output: Path, lang: str = "vi"
) -> list[str]:
    """The empty workbook to fill in by hand: instructions, then one sheet per deliverable
    (row 1 the keys, row 2 the labels). Returns the sheet titles of the deliverables."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(campaign_id)
    items = await deliverables_of(session=session, campaign_id=campaign_id)
    workbook = Workbook()
    guide = workbook.active
    assert guide is not None
    guide.title = t("export.template.instructions_sheet", lang)
    guide.column_dimensions["A"].width = 30
    guide.column_dimensions["B"].width = 90
    lines: list[tuple[str, str]] = [
        (t("export.template.title", lang, reference=campaign.reference), campaign.name),
        ("", ""),
        *[(str(n), t(f"export.template.rule{n}", lang)) for n in range(1, 8)],
        ("", ""),
    ]
    for item, form, deadlines in items:
        due = ", ".join(f"{level}: {date_text(d, lang)}" for level, d in deadlines.items())
        lines.append(
            (
                item.key,
                t(
                    "export.template.sheet_line",
                    lang,
                    name=name_in(item, lang),
                    due=due,
                ),
            )
        )
        for f in form.fields:
            need = t("export.template.required" if f.required else "export.template.optional", lang)
            extra = ""
            if f.default_from:
                extra = " " + t("export.template.default_members", lang)
            if f.when is not None:
                extra += " " + t("export.template.when", lang, field=f.when.field)
            lines.append(
                (f"  {f.key}", f"{f.label(lang)} — {need}; {_format_hint(f, lang)}{extra}")
            )
        lines.append(("", ""))
    for left, right in lines:
        append_row(guide, [left, right])
    guide["A1"].font = _BOLD
    for cell in guide["B"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")

    titles = []
    for item, form, _ in items:
        ws = workbook.create_sheet(item.key)
        titles.append(item.key)
        keys = [UNIT_CODE, UNIT_NAME, *form.keys()]
        labels = [
            t("export.template.unit_code", lang),
            t("export.template.unit_name", lang),
            *(f.label(lang) for f in form.fields),
        ]
        append_row(ws, keys)
        append_row(ws, labels)
        for index in range(1, len(keys) + 1):
            ws.cell(1, index).fill = _KEY_FILL
            ws.cell(2, index).font = _BOLD
            ws.cell(2, index).fill = _LABEL_FILL
            ws.cell(2, index).alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[get_column_letter(index)].width = 12 if index == 1 else 22
        ws.freeze_panes = "B3"
    workbook.save(output)
    return titles
