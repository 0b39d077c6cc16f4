"""The organisation that runs the campaigns (the department): its name in sentences and what an
official document's header says of it. From the settings (`CADREBOT_ORGANISATION_*`); a setting
left unset takes the catalog's default (`organisation.*`) in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass

from storage.i18n import t
from storage.settings import Settings


@dataclass(frozen=True)
class Organisation:
    name: str  # in a sentence: "liên hệ {name}"
    parent: str  # the committee above it, the header's first line: "Tỉnh ủy Nghệ An"
    header: str  # its own name under the parent: "Ban Tuyên giáo và Dân vận"
    symbol: str  # after "-BC/" in a document's number: "BTGDVTU"
    place: str  # before a document's date: "Nghệ An" (dots to fill in when unset)


def organisation_name(settings: Settings, lang: str = "vi") -> str:
    return settings.organisation_name or t("organisation.name", lang)


def organisation(settings: Settings, lang: str = "vi") -> Organisation:
    return Organisation(
        name=organisation_name(settings, lang),
        parent=settings.organisation_parent or t("organisation.parent", lang),
        header=settings.organisation_header or t("organisation.header", lang),
        symbol=settings.organisation_symbol or t("organisation.symbol", lang),
        place=settings.organisation_place or t("organisation.place", lang),
    )
