"""The draft report as a Party document (.docx, python-docx): the header block (the issuing
committee, its number and symbol on the left; ĐẢNG CỘNG SẢN VIỆT NAM and the place and date on
the right, in a borderless two-column table), the title BÁO CÁO with its subject line, the
paragraphs of `bot.report_draft`, and the signature block (Nơi nhận / T/M ...). Texts come from
the catalog (document.po) and the organisation from the settings (`storage.organisation`).

python-docx is imported inside `report_docx` only (the CLI and the bot start without it)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from bot.report_draft import Draft
from storage.i18n import t
from storage.i18n.formatting import document_date
from storage.organisation import Organisation

FONT = "Times New Roman"
BODY_PT = 14
SMALL_PT = 12
# "Số    -BC/...": room to write the number by hand when none is given.
BLANK_NUMBER = "\u00a0" * 6


def _borderless(table: Any) -> None:
    """No border on the table or its cells (Word's default table style may draw them)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    # In the schema's order: before the layout, the cell margins and the look.
    properties.insert_element_before(
        borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption"
    )


def _line(
    cell_or_doc: Any,
    text: str,
    *,
    bold: bool = False,
    italic: bool = False,
    underline: bool = False,
    size: int = BODY_PT,
    align: str = "center",
    first: bool = False,
) -> Any:
    """One paragraph with one run (the first paragraph of a new cell is reused)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    paragraph = cell_or_doc.paragraphs[0] if first else cell_or_doc.add_paragraph()
    paragraph.alignment = {
        "center": WD_ALIGN_PARAGRAPH.CENTER,
        "left": WD_ALIGN_PARAGRAPH.LEFT,
        "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
    }[align]
    paragraph.paragraph_format.space_after = Pt(0)
    run = paragraph.add_run(text)
    run.bold, run.italic, run.underline = bold, italic, underline
    run.font.size = Pt(size)
    return paragraph


def report_docx(
    draft: Draft, *, organisation: Organisation, number: str = "", lang: str = "vi"
) -> bytes:
    """The document's bytes. `number`: the document's number ("" leaves it blank to fill)."""
    from docx import Document
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(BODY_PT)

    header = doc.add_table(rows=1, cols=2)
    _borderless(header)
    left, right = header.rows[0].cells
    _line(left, organisation.parent.upper(), first=True)
    _line(left, organisation.header.upper(), bold=True)
    _line(left, "*")
    symbol = t("document.number", lang, number=number or BLANK_NUMBER, symbol=organisation.symbol)
    _line(left, symbol)
    _line(right, t("document.party", lang), bold=True, underline=True, first=True)
    _line(right, "")
    _line(right, "")
    _line(right, document_date(draft.day, organisation.place, lang), italic=True)

    _line(doc, "")
    _line(doc, t("document.title", lang), bold=True, size=BODY_PT + 1)
    _line(doc, t("document.subject", lang, resolution=draft.resolution), bold=True)
    _line(doc, "-----")
    for text in draft.paragraphs:
        paragraph = _line(doc, text, align="justify")
        paragraph.paragraph_format.first_line_indent = Cm(1)
        paragraph.paragraph_format.space_before = Pt(6)

    _line(doc, "")
    signature = doc.add_table(rows=1, cols=2)
    _borderless(signature)
    recipients, signer = signature.rows[0].cells
    _line(recipients, t("document.recipients", lang), underline=True, align="left", first=True)
    parent = t("document.recipient_parent", lang, parent=organisation.parent)
    _line(recipients, parent, size=SMALL_PT, align="left")
    _line(recipients, t("document.recipient_file", lang), size=SMALL_PT, align="left")
    on_behalf = t("document.on_behalf", lang, header=organisation.header.upper())
    _line(signer, on_behalf, bold=True, first=True)

    out = BytesIO()
    doc.save(out)
    return out.getvalue()
