"""The deliverables' sheet titles: the template writes them, the import finds its sheets by them.

Excel allows 31 characters in a title, none of \\ / * ? : [ ], no apostrophe at either end,
and compares titles without regard to case. A deliverable's title is the short name its
campaign declares (`sheet_vi` / `sheet_en` in the campaign file), else its name cut so that it
still reads as a name: before a linking word ("thực hiện", "của", "of" ...) or after a comma,
else after the last whole word that fits ("Chương trình hành động thực hiện Nghị quyết" gives
"Chương trình hành động", never "Chương trình hành động thực"). Titles are unique within the
workbook (a repeated one ends in " (2)") and never the instructions sheet's."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from storage.i18n import LANGUAGES, t
from storage.i18n.formatting import name_in
from storage.models import Campaign, Deliverable
from storage.report_import.tables import norm

LIMIT = 31  # Excel's longest sheet title
_BAD = re.compile(r"[\\/*?:\[\]]")
_ENDS = " ,;.-–—'"
# Words that start a complement: a title cut before one still reads as a name.
_LINKS = (
    "thực hiện",
    "của",
    "về",
    "và",
    "cho",
    "trong",
    "đối với",
    "theo",
    "tại",
    "để",
    "nhằm",
    "of",
    "for",
    "and",
    "to",
    "in",
    "on",
    "by",
    "with",
)


def readable_cut(name: str) -> str:
    """`name` as a valid sheet title of at most 31 characters that reads as a name."""
    text = " ".join(_BAD.sub(" ", name).split()).strip(_ENDS)
    if len(text) <= LIMIT:
        return text
    words = text.split(" ")
    at_link = at_word = ""
    for end in range(1, len(words)):
        prefix = " ".join(words[:end])
        if len(prefix) > LIMIT:
            break
        at_word = prefix
        rest = " ".join(words[end:]).casefold()
        if prefix.endswith((",", ";")) or any(
            rest == link or rest.startswith(link + " ") for link in _LINKS
        ):
            at_link = prefix
    # A cut before a linking word, unless it leaves too little of the name.
    chosen = at_link if len(at_link) >= LIMIT // 2 else at_word or text[:LIMIT]
    return chosen.strip(_ENDS)


def sheet_titles(
    items: Sequence[tuple[str, str, str | None]], *, reserved: Iterable[str] = ()
) -> dict[str, str]:
    """Key -> title for (key, name, declared short name) in workbook order: unique, ignoring
    case, and none of `reserved` (the instructions sheet)."""
    taken = {title.casefold() for title in reserved}
    titles: dict[str, str] = {}
    for key, name, short in items:
        base = readable_cut(short or name) or key
        title, count = base, 1
        while title.casefold() in taken:
            count += 1
            suffix = f" ({count})"
            title = base[: LIMIT - len(suffix)].rstrip(_ENDS) + suffix
        taken.add(title.casefold())
        titles[key] = title
    return titles


def _declared(campaign: Campaign, lang: str) -> dict[str, str | None]:
    """Key -> the short sheet name the campaign file declares in `lang`, if any."""
    found: dict[str, str | None] = {}
    for item in (campaign.definition or {}).get("deliverables") or ():
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            short = item.get(f"sheet_{lang}")
            found[item["key"]] = short if isinstance(short, str) and short.strip() else None
    return found


def deliverable_sheets(
    campaign: Campaign, deliverables: Sequence[Deliverable], lang: str
) -> dict[str, str]:
    """Key -> the title of the deliverable's sheet in a template written in `lang`."""
    declared = _declared(campaign, lang)
    return sheet_titles(
        [(d.key, name_in(d, lang), declared.get(d.key)) for d in deliverables],
        reserved=[t("export.template.instructions_sheet", lang)],
    )


def sheet_aliases(campaign: Campaign, deliverables: Sequence[Deliverable]) -> dict[str, set[str]]:
    """Key -> every title that names the deliverable's sheet (as compared by `norm`): its key,
    its names and its template titles in every language."""
    aliases: dict[str, set[str]] = {d.key: {norm(d.key)} for d in deliverables}
    for lang in LANGUAGES:
        for key, title in deliverable_sheets(campaign, deliverables, lang).items():
            aliases[key].add(norm(title))
    for d in deliverables:
        aliases[d.key].update(norm(name) for name in (d.name_vi, d.name_en) if name)
    return aliases


def sheet_deliverable(
    title: str | None, aliases: Mapping[str, set[str]], names: Mapping[str, Sequence[str]]
) -> str | None:
    """The deliverable a sheet title names: one of its aliases; else (a template written
    before short titles, cut at 31 characters) the start of its name. None: no deliverable."""
    wanted = norm(title) if title is not None else ""
    if not wanted:
        return None
    for key, known in aliases.items():
        if wanted in known:
            return key
    for key, full in names.items():
        if any(norm(name).startswith(wanted) for name in full if name):
            return key
    return None
