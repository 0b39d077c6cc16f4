"""Sheet 5: corrections of reports, field by field, and changes to the units' own data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.export.sheet import (
    CHAT_CHANNELS,
    Column,
    column_maker,
    local_time,
)
from storage.figures import (
    CampaignContext,
)
from storage.forms import Form, FormField, answers_from_json, format_answer
from storage.history import UNIT_FIELDS, unit_changes, version_changes
from storage.i18n import t
from storage.i18n.formatting import name_in

# ---------------------------------------------------------------------------------------------
# Sheet 5: change history


def history_columns(lang: str) -> list[Column]:
    c = column_maker("history", lang)

    return [
        c("when", "datetime", 16),
        c("code", width=12),
        c("name", width=30),
        c("subject", width=30),
        c("field", width=28),
        c("old", width=16),
        c("new", width=16),
        c("who", width=22),
        c("channel", width=10),
        c("version", "int", 9),
    ]


def _who(
    name: str | None, forgotten: datetime | None, person_id: int | None, channel: str, lang: str
) -> str:
    """The person's name; "đã xóa" when they were forgotten or deleted (chat changes always
    had a person); "—" for changes no person made (command line without --as, system)."""
    if person_id is not None and name is not None and forgotten is None:
        return name
    if person_id is not None or channel in CHAT_CHANNELS:
        return t("export.history.deleted", lang)
    return t("common.dash", lang)


def _plain(value: Any, lang: str) -> Any:
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no", lang)
    if value is None:
        return t("common.dash", lang)
    return value


def _shown(field: FormField | None, value: Any, lang: str) -> Any:
    """An answer as the sheet shows it: by its form field, else (a field the form no longer
    has) as a plain value."""
    return format_answer(field, value, lang) if field else _plain(value, lang)


async def version_history(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
    batch_size: int,
) -> AsyncIterator[tuple[datetime, list[Any]]]:
    """Corrections: each version after the first, compared field by field with the one
    before it, in time order."""
    zone = ZoneInfo(ctx.timezone)
    forms = {
        d.id: Form.model_validate(ctx.forms[d.id]) for d in ctx.deliverables if ctx.forms.get(d.id)
    }
    names = {d.id: name_in(d, lang) for d in ctx.deliverables}
    async for row in version_changes(
        session=session, ctx=ctx, as_of=as_of, root_path=root_path, batch_size=batch_size
    ):
        form = forms.get(row.deliverable_id)
        before = dict(row.old_answers or {})
        after = dict(row.new_answers or {})
        if form is not None:
            before, after = answers_from_json(form, before), answers_from_json(form, after)
        keys = list(dict.fromkeys([*(form.keys() if form else []), *before, *after]))
        who = _who(row.full_name, row.forgotten_at, row.created_by_person_id, row.channel, lang)
        for key in keys:
            if before.get(key) == after.get(key):
                continue
            field = _field(form, key)
            yield (
                row.created_at,
                [
                    local_time(row.created_at, zone),
                    row.code,
                    row.name,
                    names.get(row.deliverable_id, ""),
                    field.label(lang) if field else key,
                    _shown(field, before.get(key), lang),
                    _shown(field, after.get(key), lang),
                    who,
                    row.channel,
                    row.version,
                ],
            )


def _field(form: Form | None, key: str) -> FormField | None:
    if form is None:
        return None
    try:
        return form.field(key)
    except KeyError:
        return None


async def unit_history(
    *,
    session: AsyncSession,
    ctx: CampaignContext,
    as_of: datetime,
    root_path: str | None,
    lang: str,
    since: datetime,
) -> list[tuple[datetime, list[Any]]]:
    """Changes to the units' own data (name, level, parent, members...) during the campaign."""
    zone = ZoneInfo(ctx.timezone)
    subject = t("export.history.unit_data", lang)
    rows: list[tuple[datetime, list[Any]]] = []
    for row in await unit_changes(
        session=session, ctx=ctx, as_of=as_of, root_path=root_path, since=since
    ):
        before, after = dict(row.old or {}), dict(row.new or {})
        who = _who(row.full_name, row.forgotten_at, row.actor_person_id, row.channel, lang)
        for key in UNIT_FIELDS:
            if key not in after or before.get(key) == after.get(key):
                continue
            rows.append(
                (
                    row.at,
                    [
                        local_time(row.at, zone),
                        row.code,
                        row.name,
                        subject,
                        t(f"export.unit_field.{key}", lang),
                        _plain(before.get(key), lang),
                        _plain(after.get(key), lang),
                        who,
                        row.channel,
                        None,
                    ],
                )
            )
    return rows
