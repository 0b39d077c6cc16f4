"""Campaigns in the database: loading a definition (upsert by reference), listing, lookups."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import audit
from storage.campaigns.definition import CampaignDefinition, DefinitionError, LineProblem
from storage.forms import Form
from storage.models import Campaign, Deliverable, DeliverableDeadline, Level, Report
from storage.unit_lookup import get_unit

# --- database ------------------------------------------------------------------------------------


# Parsed forms by deliverable id, with a copy of the JSON they were parsed from: a hit needs
# the deliverable's JSON to be equal (a reloaded campaign, or another database with the same
# ids, is parsed afresh). `Form` is immutable, safe to share.
_FORMS: dict[int, tuple[Any, Form]] = {}
_FORMS_MAX = 256


def form_of(deliverable: Deliverable) -> Form:
    """The deliverable's parsed form (validated once per distinct JSON, not on every call)."""
    key = deliverable.id
    cached = _FORMS.get(key) if key is not None else None
    if cached is not None and cached[0] == deliverable.form:
        return cached[1]
    form = Form.model_validate(deliverable.form)
    if key is not None:
        if len(_FORMS) >= _FORMS_MAX:
            _FORMS.clear()
        _FORMS[key] = (copy.deepcopy(deliverable.form), form)
    return form


def definition_of(campaign: Campaign) -> CampaignDefinition:
    """The stored definition (reminder and digest rules for the scheduler)."""
    return CampaignDefinition.model_validate(campaign.definition)


async def _database_problems(
    *, session: AsyncSession, definition: CampaignDefinition
) -> tuple[list[LineProblem], int | None]:
    """Unknown level codes and an unknown scope unit (with their lines); the scope's unit id."""
    known = set((await session.execute(select(col(Level.code)))).scalars())
    problems: list[LineProblem] = []
    for index, item in enumerate(definition.deliverables):
        for level in item.deadlines:
            if level not in known:
                loc: tuple[str | int, ...] = ("deliverables", index, "deadlines", level)
                params = {"level": level, "allowed": ", ".join(sorted(known)) or "—"}
                problems.append(
                    LineProblem(
                        definition.line_of(loc), loc, "campaign.error.unknown_level", params
                    )
                )
    for index, group in enumerate(definition.campaign.reporting_groups):
        for level in group.levels:
            if level not in known:
                loc = ("campaign", "reporting_groups", index, "levels")
                params = {"level": level, "allowed": ", ".join(sorted(known)) or "—"}
                problems.append(
                    LineProblem(
                        definition.line_of(loc), loc, "campaign.error.unknown_level", params
                    )
                )
    scope = definition.campaign.scope
    scope_id: int | None = None
    if scope is not None:
        scope_unit = await get_unit(session=session, code=scope)
        scope_id = scope_unit.id if scope_unit is not None else None
        if scope_id is None:
            loc = ("campaign", "scope")
            problems.append(
                LineProblem(
                    definition.line_of(loc), loc, "campaign.error.unknown_scope", {"code": scope}
                )
            )
    return problems, scope_id


async def load_campaign(
    *,
    session: AsyncSession,
    definition: CampaignDefinition,
    now: datetime,
    actor_person_id: int | None = None,
    channel: str = "cli",
    campaign_id: int | None = None,
) -> Campaign:
    """Create or update the campaign with this reference (never a duplicate); with
    `campaign_id`, update that campaign in place (its reference may change, to one no other
    campaign has). Deliverables are matched by key; their deadlines are replaced. Raises
    DefinitionError (nothing written) for unknown levels or scope, a reference taken, or when a
    deliverable that already has reports was left out; LookupError for an unknown campaign_id."""
    info = definition.campaign
    problems, scope_id = await _database_problems(session=session, definition=definition)
    existing = (
        await session.execute(select(Campaign).where(col(Campaign.reference) == info.reference))
    ).scalar_one_or_none()
    if campaign_id is not None:
        if existing is not None and existing.id != campaign_id:
            loc: tuple[str | int, ...] = ("campaign", "reference")
            params = {"reference": info.reference}
            problems.append(
                LineProblem(definition.line_of(loc), loc, "campaign.error.reference_taken", params)
            )
        existing = await session.get(Campaign, campaign_id, with_for_update=True)
        if existing is None:
            raise LookupError(f"no campaign {campaign_id}")
    old: dict[str, Deliverable] = {}
    if existing is not None:
        result = await session.execute(
            select(Deliverable).where(col(Deliverable.campaign_id) == existing.id)
        )
        old = {row.key: row for row in result.scalars()}
    new_keys = {decl.key for decl in definition.deliverables}
    dropped = [row for key, row in old.items() if key not in new_keys]
    if dropped:
        query = select(col(Report.deliverable_id)).where(
            col(Report.deliverable_id).in_([row.id for row in dropped])
        )
        with_reports = set((await session.execute(query.distinct())).scalars())
        problems.extend(
            LineProblem(
                None,
                ("deliverables", row.key),
                "campaign.error.removed_with_reports",
                {"key": row.key, "name": row.name_vi},
            )
            for row in dropped
            if row.id in with_reports
        )
    if problems:
        raise DefinitionError(problems)

    columns: dict[str, Any] = {
        "reference": info.reference,
        "name": info.name,
        "resolution": info.resolution,
        "start_date": info.start_date,
        "end_date": info.end_date,
        "timezone": info.timezone,
        "scope_unit_id": scope_id,
        "min_session_halfdays": info.min_session_halfdays,
        "essay_rate_threshold": info.essay_rate_threshold,
        "definition": definition.model_dump(mode="json"),
        "updated_at": now,
    }
    old_summary: dict[str, Any] | None = None
    if existing is None:
        campaign = Campaign(created_at=now, **columns)
        session.add(campaign)
    else:
        campaign = existing
        old_summary = _summary(campaign, sorted(old))
        for name, value in columns.items():
            setattr(campaign, name, value)
    for row in dropped:
        await session.delete(row)  # its deadlines go with it (ON DELETE CASCADE)
    await session.flush()
    assert campaign.id is not None

    stored: list[Deliverable] = []
    for position, decl in enumerate(definition.deliverables):
        form_json = decl.form().model_dump(mode="json")
        current = old.get(decl.key)
        if current is None:
            current = Deliverable(
                campaign_id=campaign.id,
                key=decl.key,
                form=form_json,
                name_vi=decl.name_vi,
                name_en=decl.name_en,
                position=position,
            )
            session.add(current)
        else:
            current.name_vi, current.name_en = decl.name_vi, decl.name_en
            current.position, current.form = position, form_json
        stored.append(current)
    await session.flush()
    ids = [row.id for row in stored if row.id is not None]
    await session.execute(
        delete(DeliverableDeadline).where(col(DeliverableDeadline.deliverable_id).in_(ids))
    )
    await session.execute(
        insert(DeliverableDeadline),
        [
            {"deliverable_id": row.id, "level_code": level, "due_date": due}
            for row, decl in zip(stored, definition.deliverables, strict=True)
            for level, due in decl.deadlines.items()
        ],
    )
    await audit.record(
        session=session,
        now=now,
        channel=channel,
        action="campaign.load" if existing is None else "campaign.reload",
        entity="campaign",
        entity_id=campaign.id,
        actor_person_id=actor_person_id,
        old=old_summary,
        new=_summary(campaign, [decl.key for decl in definition.deliverables]),
    )
    return campaign


def _summary(campaign: Campaign, deliverable_keys: list[str]) -> dict[str, Any]:
    return {
        "reference": campaign.reference,
        "name": campaign.name,
        "start_date": campaign.start_date.isoformat(),
        "end_date": campaign.end_date.isoformat() if campaign.end_date else None,
        "deliverables": deliverable_keys,
    }


async def list_campaigns(*, session: AsyncSession) -> list[Campaign]:
    """Newest start first."""
    query = select(Campaign).order_by(col(Campaign.start_date).desc(), col(Campaign.id))
    return list((await session.execute(query)).scalars())


async def deliverable_counts(*, session: AsyncSession) -> dict[int, int]:
    """Number of deliverables per campaign id."""
    query = select(col(Deliverable.campaign_id), func.count()).group_by(
        col(Deliverable.campaign_id)
    )
    return {int(ident): int(count) for ident, count in (await session.execute(query)).all()}


async def get_campaign(
    *, session: AsyncSession, campaign_id_or_reference: int | str
) -> Campaign | None:
    """By id (an int, or a string of digits that is no campaign's reference) or by reference."""
    if isinstance(campaign_id_or_reference, int):
        return await session.get(Campaign, campaign_id_or_reference)
    query = select(Campaign).where(col(Campaign.reference) == campaign_id_or_reference)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None and campaign_id_or_reference.isdigit():
        return await session.get(Campaign, int(campaign_id_or_reference))
    return found


async def deliverables_of(
    *, session: AsyncSession, campaign_id: int
) -> list[tuple[Deliverable, Form, dict[str, date]]]:
    """The campaign's deliverables in file order, each with its form and its deadline per level
    (the levels it applies to)."""
    query = (
        select(Deliverable)
        .where(col(Deliverable.campaign_id) == campaign_id)
        .order_by(col(Deliverable.position), col(Deliverable.id))
    )
    rows = list((await session.execute(query)).scalars())
    deadlines: dict[int, dict[str, date]] = {row.id: {} for row in rows if row.id is not None}
    if deadlines:
        result = await session.execute(
            select(
                col(DeliverableDeadline.deliverable_id),
                col(DeliverableDeadline.level_code),
                col(DeliverableDeadline.due_date),
            )
            .join(Level, col(Level.code) == col(DeliverableDeadline.level_code))
            .where(col(DeliverableDeadline.deliverable_id).in_(list(deadlines)))
            .order_by(col(DeliverableDeadline.due_date), col(Level.rank), col(Level.code))
        )
        for deliverable_id, level, due in result.all():
            deadlines[deliverable_id][level] = due
    return [(row, form_of(row), deadlines.get(row.id or 0, {})) for row in rows]
