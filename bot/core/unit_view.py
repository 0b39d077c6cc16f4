"""/donvi CODE: one unit's status in every open campaign it takes part in, the figures of its
current report versions (with the presenter's name), the review state and evidence of each
report (a count, and with the web console a short-lived signed link to each file,
`bot.web.evidence_links`), and the list of versions (every change is a new version)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.evidence_links import LINK_TTL
from storage.assessments import assessment_text, choice_text
from storage.clock import local_date
from storage.evidence import evidence_of
from storage.figures import STATUS_MISSING, UNIT, UnitFigures, load_campaign, unit_rows
from storage.forms import Form
from storage.i18n import t
from storage.i18n.formatting import date_text, name_in, value_text, with_figures
from storage.models import MEASURES, Campaign, Evidence, Unit
from storage.reminders import open_campaigns_for_unit, reporter_contacts
from storage.report_views import version_answers, versions_of
from storage.review import current_reviews, review_required

MAX_LINKS = 5  # evidence links per report in a chat message; the web unit page lists all
Link = Callable[[int], str]  # an evidence id -> the link the reader may open


def _evidence_lines(kept: list[Evidence], link: Link | None, lang: str) -> list[str]:
    count = t("evidence.unit.count", lang, count=len(kept))
    lines = [t("unit.measure", lang, label=t("evidence.unit.label", lang), value=count)]
    if link is not None:
        for index, row in enumerate(kept[:MAX_LINKS], start=1):
            lines.append(t("evidence.unit.link", lang, index=index, url=link(row.id or 0)))
        if len(kept) > MAX_LINKS:
            lines.append(t("evidence.unit.more", lang, count=len(kept) - MAX_LINKS))
        lines.append(t("evidence.unit.valid", lang, minutes=LINK_TTL // timedelta(minutes=1)))
    return lines


async def _campaign_lines(
    session: AsyncSession,
    campaign: Campaign,
    unit: Unit,
    now: datetime,
    lang: str,
    link: Link | None,
) -> list[str]:
    assert campaign.id is not None
    ctx = await load_campaign(session=session, campaign_id=campaign.id)
    forms = {
        d.key: Form.model_validate(ctx.forms[d.id]) for d in ctx.deliverables if ctx.forms.get(d.id)
    }
    people = {key: form.name_fields() for key, form in forms.items()}  # the presenter's name
    rows: list[UnitFigures] = [
        row
        async for row in unit_rows(
            session=session,
            campaign_id=campaign.id,
            as_of=now,
            unit_filter=UNIT.c.id == unit.id,
            answer_keys=[f.key for fields in people.values() for f in fields],
        )
    ]
    if not rows:
        return []
    names = {info.key: name_in(info, lang) for info in ctx.deliverables}
    parts = rows[0].deliverables
    history = await versions_of(
        session=session, report_ids=[p.report_id for p in parts if p.report_id is not None]
    )
    reported = [p.report_id for p in parts if p.report_id is not None]
    reviews = (
        await current_reviews(session=session, report_ids=reported)
        if review_required(campaign)
        else {}
    )
    files = await evidence_of(session=session, report_ids=reported)
    # The fields kept in the answers only (the action programme's number).
    documents = {key: form.document_fields() for key, form in forms.items()}
    numbers = await version_answers(
        session=session,
        keys={f.key for fields in documents.values() for f in fields},
        report_ids=reported,
    )
    lines = [t("unit.campaign", lang, campaign=campaign.name, reference=campaign.reference)]
    for part in parts:
        due = date_text(part.due_date, lang)
        if part.status == STATUS_MISSING or part.report_id is None:
            lines.append(t("unit.missing", lang, deliverable=names[part.key], due=due))
            continue
        assert part.first_confirmed_at is not None
        lines.append(
            t(
                f"unit.{part.status}",
                lang,
                deliverable=names[part.key],
                due=due,
                report=part.report_id,
                date=date_text(local_date(part.first_confirmed_at, campaign.timezone), lang),
            )
        )
        form = next((ctx.forms.get(d.id) for d in ctx.deliverables if d.key == part.key), None)
        presenter = [
            t("unit.measure", lang, label=f.label(lang), value=part.answers[f.key])
            for f in people.get(part.key, [])
            if f.key in part.answers
        ]
        for measure in MEASURES:
            if measure == "presenter_standing":  # the presenter's name, then their standing
                lines.extend(presenter)
                presenter = []
            if measure in part.measures:
                value = choice_text(form, measure, part.measures[measure], lang)
                lines.append(
                    t(
                        "unit.measure",
                        lang,
                        label=t(f"measure.{measure}", lang),
                        value=value_text(value, lang),
                    )
                )
        lines.extend(presenter)
        held = numbers.get((part.report_id, part.version or 0), {})
        for field in documents.get(part.key, []):
            if field.key in held:
                lines.append(
                    t("unit.measure", lang, label=field.label(lang), value=str(held[field.key]))
                )
        if (verdict := assessment_text(part.assessment, lang)) is not None:
            lines.append(
                t(
                    "unit.measure",
                    lang,
                    label=t("measure.assessment", lang),
                    value=verdict,
                )
            )
        if part.report_id in reviews:  # the review state and the evidence (#17)
            state, reason = reviews[part.report_id]
            value = t(f"review.unit.{state}", lang, reason=reason or "")
            lines.append(t("unit.measure", lang, label=t("review.unit.label", lang), value=value))
        if files.get(part.report_id):
            lines.extend(_evidence_lines(files[part.report_id], link, lang))
        versions = history.get(part.report_id, [])
        if len(versions) > 1:
            items = ", ".join(
                t(
                    "unit.version",
                    lang,
                    version=version,
                    date=date_text(local_date(created_at, campaign.timezone), lang),
                )
                for version, created_at in versions
            )
            lines.append(t("unit.history", lang, items=items))
    return lines


async def unit_view_text(
    *, session: AsyncSession, unit: Unit, now: datetime, lang: str, link: Link | None = None
) -> str:
    """The unit's view; `link`: how to link each evidence file (None: counts only)."""
    lines = [with_figures("unit.head", lang, name=unit.name, code=unit.code, members=unit.members)]
    assert unit.id is not None
    contacts = await reporter_contacts(session=session, unit_id=unit.id)
    if contacts:  # the calling list: the secretary's name and phone
        people = "; ".join(
            t(
                "unit.reporter" if c.connected else "unit.reporter_offline",
                lang,
                name=c.full_name,
                phone=c.phone or t("unit.no_phone", lang),
            )
            for c in contacts
        )
        lines.append(t("unit.reporters", lang, people=people))
    campaigns = await open_campaigns_for_unit(session=session, unit=unit)
    body: list[str] = []
    for campaign in campaigns:
        body.extend(await _campaign_lines(session, campaign, unit, now, lang, link))
    lines.extend(body or [t("unit.none", lang)])
    return "\n".join(lines)
