"""The XLSX template: an instructions sheet (deadlines by level label), then one sheet per
deliverable titled with its sheet title (`sheet_names`: the campaign's short name for it, else
its name cut to read well in Excel's 31 characters): keys, labels, and a row per unit that owes it
(STT, code, name, the members on record) to fill in."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.campaigns import deliverables_of
from storage.forms import (
    FieldType,
    FormField,
)
from storage.i18n import t
from storage.i18n.formatting import date_text, level_label, name_in
from storage.models import Campaign, Level, Unit
from storage.reminders.owed import owed
from storage.report_import.sheet_names import deliverable_sheets
from storage.report_import.tables import CHUNK, REPORTED_ON, UNIT_CODE, UNIT_NAME
from storage.sheets import append_row

# ---------------------------------------------------------------------------------------------
# The template


async def _owing(
    session: AsyncSession, campaign: Campaign
) -> dict[int, list[tuple[str, str, int]]]:
    """Deliverable id -> (code, name, members) of the units that still owe it, in tree order."""
    rows = await owed(session=session, campaign=campaign)
    members: dict[int, int] = {}
    ids = sorted({row.unit_id for row in rows})
    for start in range(0, len(ids), CHUNK):
        query = select(col(Unit.id), col(Unit.members)).where(
            col(Unit.id).in_(ids[start : start + CHUNK])
        )
        for unit_id, count in (await session.execute(query)).all():
            members[int(unit_id or 0)] = int(count or 0)
    found: dict[int, list[tuple[str, str, int]]] = {}
    for row in rows:
        found.setdefault(row.deliverable_id, []).append(
            (row.unit_code, row.unit_name, members.get(row.unit_id, 0))
        )
    return found


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
    levels = {
        level.code: level_label(level, lang)
        for level in (await session.execute(select(Level))).scalars()
    }
    owing = await _owing(session, campaign)
    for item, form, deadlines in items:
        due = ", ".join(
            f"{levels.get(level, level)}: {date_text(d, lang)}" for level, d in deadlines.items()
        )
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
    named = deliverable_sheets(campaign, [item for item, _, _ in items], lang)
    for item, form, _ in items:
        ws = workbook.create_sheet(named[item.key])
        titles.append(ws.title)
        keys = ["stt", UNIT_CODE, UNIT_NAME, REPORTED_ON, *form.keys()]
        labels = [
            t("export.template.number", lang),
            t("export.template.unit_code", lang),
            t("export.template.unit_name", lang),
            t("export.template.reported_on", lang),
            *(f.label(lang) for f in form.fields),
        ]
        append_row(ws, keys)
        append_row(ws, labels)
        # The units that owe it, in tree order, with the members on record where the form
        # defaults to them (a row left so is skipped on import: the unit has not reported).
        members_at = [i for i, f in enumerate(form.fields) if f.default_from]
        for number, (code, name, members) in enumerate(owing.get(item.id or 0, []), start=1):
            answers: list[object] = [None] * len(form.fields)
            for i in members_at:
                answers[i] = members
            append_row(ws, [number, code, name, None, *answers])
        for index in range(1, len(keys) + 1):
            ws.cell(1, index).fill = _KEY_FILL
            ws.cell(2, index).font = _BOLD
            ws.cell(2, index).fill = _LABEL_FILL
            ws.cell(2, index).alignment = Alignment(wrap_text=True, vertical="center")
            width = 6 if index == 1 else 12 if index == 2 else 22
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "D3"
    workbook.save(output)
    return titles
