"""A new campaign from a form (no YAML): a built-in template's deliverables and forms, with the
name, reference, resolution, start date and every deadline per level typed in. The templates
offered are those whose levels all exist in the unit tree (`fitting_templates`: on the 2025
structure with no huyện level, the two-level one), so that the form never asks a deadline for a
level the tree does not have; a template posted that does not fit is refused. The one the
units' levels call for comes first and is the one a form naming none gets (with the default
levels all present but no unit at the huyện level, the two-level one). It goes through
the same validation and loader as `cadrebot campaign load` (`storage.campaigns`); a reference
that exists already is refused (the form creates, it never overwrites)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from bot.web.campaign_reader import parse_day
from bot.web.fields import FieldProblem, clean_value
from storage.campaigns import (
    CampaignDefinition,
    DefinitionError,
    builtin_template,
    definition_problems,
    format_loc,
    get_campaign,
    load_campaign,
)
from storage.i18n import t
from storage.i18n.formatting import in_sentence
from storage.models import CHANNEL_WEB, Campaign
from storage.text_clean import NUL, clean, has_control

# The longest text each field takes (the campaign table allows 255 and 64).
TEXT_FIELDS = {"name": 200, "reference": 64, "resolution": 255}
DATE_LIMIT = 32
TEMPLATE_FIELD = "template"
DEFAULT_TEMPLATE = "nq-xii"


@dataclass
class Filled:
    """The form's values (to show it again), its template and the problems found."""

    values: dict[str, str]
    problems: list[str] = field(default_factory=list)
    template: str = DEFAULT_TEMPLATE


def template(name: str = DEFAULT_TEMPLATE) -> CampaignDefinition:
    return builtin_template(name)


def chosen_template(raw: str, fitting: Sequence[str]) -> str | None:
    """The template a form names (a short name, `TEMPLATES`) if it fits the tree; the first
    fitting one when it names none; None for one unknown or not fitting, or none fitting."""
    if raw == "":
        return fitting[0] if fitting else None
    return raw if raw in fitting else None


def deadline_name(key: str, level: str) -> str:
    return f"due__{key}__{level}"


def blank_values(name: str = DEFAULT_TEMPLATE) -> dict[str, str]:
    """The form as first shown: the template's deliverables and levels, dates to fill in."""
    base = template(name)
    values = {name: "" for name in TEXT_FIELDS}
    values["resolution"] = base.campaign.resolution
    values["start_date"] = ""
    for item in base.deliverables:
        for level in item.deadlines:
            values[deadline_name(item.key, level)] = ""
    return values


def _day(raw: str) -> date | None:
    """The date typed (as typed, before cleaning: a control character in it is refused, as on
    the edit form)."""
    return parse_day(raw) if len(raw) <= DATE_LIMIT and not has_control(raw) else None


def read_form(
    form: FormData,
    lang: str,
    level_names: Mapping[str, str] | None = None,
    fitting: Sequence[str] = (DEFAULT_TEMPLATE,),
) -> tuple[Filled, CampaignDefinition | None]:
    """The new definition, or None with the problems. `level_names`: each level code's label,
    as a problem names a level ("hạn “…” của cấp tỉnh"); `fitting`: the templates that fit the
    unit tree (the form's template must be one; without one posted, the first)."""
    chosen = chosen_template(str(form.get(TEMPLATE_FIELD, "") or ""), fitting)
    if chosen is None:  # shown again with the first fitting template's fields, the text kept
        first = fitting[0] if fitting else DEFAULT_TEMPLATE
        filled = Filled(blank_values(first), template=first)
        for name, limit in TEXT_FIELDS.items():
            typed_text = str(form.get(name, "") or "")
            filled.values[name] = clean(typed_text.replace(NUL, ""))[: limit * 2]
        filled.problems.append(t("web.campaign_form.bad_template", lang))
        return filled, None
    values = {k: str(form.get(k, "") or "") for k in blank_values(chosen)}
    filled = Filled(values, template=chosen)
    typed = dict(values)
    for k in values:  # dates are shown back as typed, cleaned (never a NUL in the page)
        if k not in TEXT_FIELDS:
            values[k] = clean(values[k].replace(NUL, ""))[:DATE_LIMIT]
    data: dict[str, Any] = template(chosen).model_dump(mode="python")
    for name, limit in TEXT_FIELDS.items():
        try:
            text = clean_value(values[name], limit=limit, strict=True)
        except FieldProblem as problem:
            filled.problems.append(problem.message(lang, _label(name, lang)))
            values[name] = clean(values[name].replace(NUL, ""))[: limit * 2]  # shown back
            text = None
        if text == "":
            filled.problems.append(t("web.campaign_form.required", lang, field=_label(name, lang)))
        data["campaign"][name] = text
    start = _day(typed["start_date"])
    if start is None:
        label = _label("start_date", lang)
        filled.problems.append(t("web.campaign_form.bad_date", lang, field=label))
    data["campaign"]["start_date"] = start
    data["campaign"]["end_date"] = None
    for item in data["deliverables"]:
        for level in list(item["deadlines"]):
            due = _day(typed[deadline_name(item["key"], level)])
            if due is None:
                level_name = in_sentence((level_names or {}).get(level, level))
                label = t(
                    "web.campaign_form.deadline",
                    lang,
                    deliverable=item["name_en"]
                    if lang == "en" and item["name_en"]
                    else item["name_vi"],
                    level=level_name,
                )
                filled.problems.append(t("web.campaign_form.bad_date", lang, field=label))
            item["deadlines"][level] = due
    if filled.problems:
        return filled, None
    try:
        definition = CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = format_loc(tuple(error["loc"]))
            filled.problems.append(t("web.campaign_form.invalid", lang, field=where))
        return filled, None
    for loc, code, params in definition_problems(definition):
        filled.problems.append(f"{format_loc(loc)}: {t(code, lang, **params)}")
    return filled, (None if filled.problems else definition)


def _label(name: str, lang: str) -> str:
    return t(f"web.campaign_form.{name}", lang)


def template_label(name: str, lang: str) -> str:
    """A built-in template's name as the form's choice shows it."""
    return t(f"web.campaign_form.template_{name.replace('-', '_')}", lang)


async def create_campaign(
    *,
    session: AsyncSession,
    definition: CampaignDefinition,
    now: datetime,
    actor: int,
    lang: str,
) -> Campaign | list[str]:
    """The new campaign, or the problems (nothing written)."""
    reference = definition.campaign.reference
    existing = await get_campaign(session=session, campaign_id_or_reference=reference)
    if existing is not None and existing.reference == reference:
        return [t("web.campaign_form.exists", lang, reference=reference)]
    try:
        return await load_campaign(
            session=session,
            definition=definition,
            now=now,
            actor_person_id=actor,
            channel=CHANNEL_WEB,
        )
    except DefinitionError as exc:
        return exc.messages(lang)
