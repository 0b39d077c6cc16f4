"""The draft written report of one scope: the article's paragraphs (`bot.narrative`) with the
review basis where the campaign reviews reports, and what an official document needs around
them (the resolution, the local day the figures are as of). One owner for `cadrebot report`
(text and .docx) and the web console's report page, so both say the same paragraph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from bot.narrative import narrative
from storage.clock import local_date
from storage.figures import compute_figures, load_campaign
from storage.models import Campaign
from storage.review import review_basis, review_required
from storage.shortcomings import find_shortcomings

PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class Draft:
    text: str  # the paragraphs, a blank line between them (what `cadrebot report` prints)
    resolution: str  # the campaign's resolution, for the document's subject line
    day: date  # the local day (campaign timezone) the figures are as of

    @property
    def paragraphs(self) -> list[str]:
        return self.text.split(PARAGRAPH_BREAK)


async def draft_report(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    organisation: str,
    lang: str = "vi",
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    groups: Sequence[tuple[str, ...]] = (),
    approved_only: bool = False,
) -> Draft:
    """The paragraphs over the units under `root_path` / selected by `unit_filter` (both None:
    the whole tree), as of `as_of`, pooled by `groups` (none: the campaign's own groups)."""
    campaign = await session.get_one(Campaign, campaign_id)
    context = await load_campaign(
        session=session, campaign_id=campaign_id, approved_only=approved_only
    )
    figures = await compute_figures(
        session=session,
        campaign_id=campaign_id,
        as_of=as_of,
        root_path=root_path,
        unit_filter=unit_filter,
        combined=groups,
        context=context,
    )
    found = await find_shortcomings(
        session=session,
        campaign_id=campaign_id,
        as_of=as_of,
        root_path=root_path,
        unit_filter=unit_filter,
        context=context,
    )
    text = narrative(figures, found, lang=lang, organisation=organisation)
    if approved_only or review_required(campaign):
        text = f"{text}{PARAGRAPH_BREAK}{review_basis(approved_only, lang)}"
    return Draft(text, campaign.resolution, local_date(as_of, campaign.timezone))
