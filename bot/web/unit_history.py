"""A unit's reports on its page: per deliverable its status, due date, and every version with
what it changed (the first version shows everything it recorded)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.figures import UNIT, CampaignContext, UnitDeliverable
from storage.figures import unit_rows as figure_rows
from storage.i18n import t
from storage.i18n.formatting import date_text, name_in, number
from storage.models import ReportVersion, Unit
from storage.web_views import unit_versions

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Change:
    label: str
    old: str | None
    new: str


@dataclass(frozen=True)
class VersionView:
    version: int
    created_at: datetime
    channel: str
    changes: list[Change]


@dataclass(frozen=True)
class DeliverableHistory:
    name: str
    status: str  # on_time / late / missing
    due_date: date
    report_id: int | None
    versions: list[VersionView] = field(default_factory=list)


def shown(value: Any, lang: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no", lang)
    if isinstance(value, int):
        return number(value, lang)
    if isinstance(value, str) and _ISO_DAY.match(value):
        return date_text(date.fromisoformat(value), lang)
    return str(value)


def field_labels(form: Any, lang: str) -> dict[str, str]:
    fields = form.get("fields", []) if isinstance(form, dict) else []
    return {
        str(f["key"]): str(f.get("label_en" if lang == "en" else "label_vi") or f["key"])
        for f in fields
        if isinstance(f, dict) and "key" in f
    }


def version_views(
    versions: list[ReportVersion], labels: dict[str, str], lang: str
) -> list[VersionView]:
    views: list[VersionView] = []
    before: dict[str, Any] = {}
    for version in versions:
        after = dict(version.answers or {})
        keys = [k for k in labels if k in after or k in before] + sorted(
            k for k in after if k not in labels
        )
        changes = [
            Change(
                labels.get(key, key),
                shown(before[key], lang) if key in before else None,
                shown(after.get(key), lang),
            )
            for key in keys
            if before.get(key) != after.get(key)
        ]
        views.append(VersionView(version.version, version.created_at, version.channel, changes))
        before = after
    return views


async def deliverable_history(
    session: AsyncSession, ctx: CampaignContext, unit: Unit, now: datetime, lang: str
) -> list[DeliverableHistory]:
    assert unit.id is not None
    parts: tuple[UnitDeliverable, ...] = ()
    async for row in figure_rows(
        session=session, campaign_id=ctx.id, as_of=now, unit_filter=UNIT.c.id == unit.id
    ):
        parts = row.deliverables
    versions = await unit_versions(session=session, unit_id=unit.id, campaign_id=ctx.id)
    by_key = {d.key: d for d in ctx.deliverables}
    result = []
    for part in parts:
        info = by_key[part.key]
        labels = field_labels(ctx.forms.get(info.id), lang)
        result.append(
            DeliverableHistory(
                name=name_in(info, lang),
                status=part.status,
                due_date=part.due_date,
                report_id=part.report_id,
                versions=version_views(versions.get(info.id, []), labels, lang),
            )
        )
    return result
