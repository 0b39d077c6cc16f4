"""Campaigns declared in YAML: parsing with line-numbered errors, and loading into the database.

The file format (the built-in template `storage/templates/nq-xii.yaml` documents it in full)::

    campaign:
      name: ...                      # text
      reference: 13-KH/TU            # unique; loading the same reference again updates
      resolution: ...
      start_date: 2016-05-01         # YYYY-MM-DD
      end_date: 2016-12-31           # optional
      timezone: Asia/Ho_Chi_Minh     # default
      scope: TU_BN                   # optional unit code (only that subtree takes part)
      min_session_halfdays: 2        # a shorter session is a shortcoming
      essay_rate_threshold: 0.9      # an essay rate under it is a shortcoming
      reminders: {offsets_days: [-3, -1, 0], overdue_every_days: 2, overdue_cap: 5,
                  send_hour: 8, quiet_hours: {start: "21:00", end: "07:00"},
                  escalation_grace_days: 3}
      digest: {weekday: monday, time: "07:30"}
    deliverables:
      - key: hoi_nghi
        name_vi: ...
        name_en: ...
        deadlines: {tinh: 2016-06-10, huyen: 2016-07-15}   # the levels it applies to
        fields: [...]                # storage.forms.FormField
        rules: [...]                 # storage.forms.Rule

`parse_definition(text)` returns a `CampaignDefinition` or raises `DefinitionError`, whose
`problems` each name the YAML line and the path (`Dòng 14, deliverables[0].fields[2].type: ...`).
`load_campaign` also checks the level codes and the scope against the database, then upserts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import audit
from storage.forms import Form, FormField, Rule, form_problems
from storage.i18n import t
from storage.models import Campaign, Deliverable, DeliverableDeadline, Level, Report, Unit

TEMPLATE_NAME = "nq-xii.yaml"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_STRICT = ConfigDict(extra="forbid")


class QuietHours(BaseModel):
    model_config = _STRICT

    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(7, 0)


class Reminders(BaseModel):
    """Rules for the reminder scheduler (stored here, applied by the scheduler)."""

    model_config = _STRICT

    offsets_days: list[int] = Field(default_factory=lambda: [-3, -1, 0])
    overdue_every_days: int = Field(default=2, ge=1, le=30)
    overdue_cap: int = Field(default=5, ge=0, le=100)
    send_hour: int = Field(default=8, ge=0, le=23)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    escalation_grace_days: int = Field(default=3, ge=0, le=90)
    escalation_up_days: int = Field(default=7, ge=1, le=90)


class Digest(BaseModel):
    model_config = _STRICT

    weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    time: dt.time = dt.time(7, 30)


class CampaignInfo(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=255)
    reference: str = Field(min_length=1, max_length=64)
    resolution: str = Field(min_length=1, max_length=255)
    start_date: date
    end_date: date | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    scope: str | None = None
    min_session_halfdays: int = Field(default=1, ge=1, le=100)
    essay_rate_threshold: float = Field(default=0.9, ge=0, le=1)
    reminders: Reminders = Field(default_factory=Reminders)
    digest: Digest = Field(default_factory=Digest)


class DeliverableDecl(BaseModel):
    model_config = _STRICT

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name_vi: str = Field(min_length=1, max_length=255)
    name_en: str = Field(min_length=1, max_length=255)
    deadlines: dict[str, date] = Field(min_length=1)
    fields: list[FormField] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)

    def form(self) -> Form:
        return Form(fields=tuple(self.fields), rules=tuple(self.rules))


class CampaignDefinition(BaseModel):
    model_config = _STRICT

    campaign: CampaignInfo
    deliverables: list[DeliverableDecl] = Field(min_length=1)

    # YAML line of each path, when parsed from text (for errors found later, in the database).
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        loc = tuple(loc)
        while loc:
            if loc in self._lines:
                return self._lines[loc]
            loc = loc[:-1]
        return None


# --- errors --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineProblem:
    line: int | None
    loc: tuple[str | int, ...]
    code: str  # catalog key
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def path(self) -> str:
        return format_loc(self.loc)

    def render(self, lang: str = "vi") -> str:
        message = t(self.code, lang, **self.params)
        if self.line is not None and self.loc:
            return t(
                "campaign.error.at_line", lang, line=self.line, path=self.path, message=message
            )
        if self.line is not None:
            return t("campaign.error.at_line_only", lang, line=self.line, message=message)
        if self.loc:
            return t("campaign.error.at_path", lang, path=self.path, message=message)
        return message


class DefinitionError(Exception):
    """The campaign file is wrong; `problems` lists every mistake found, in file order."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path))
        super().__init__("; ".join(problem.render("en") for problem in self.problems))

    def messages(self, lang: str = "vi") -> list[str]:
        return [problem.render(lang) for problem in self.problems]


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# --- YAML with line numbers ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 surprises: `21:00` stays text (not 1260), dates stay text
    (pydantic parses them and reports bad ones with their line)."""


_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


def _line_map(node: yaml.Node) -> dict[tuple[str | int, ...], int]:
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(current: yaml.Node, loc: tuple[str | int, ...]) -> None:
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                child = (*loc, str(key_node.value))
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                child = (*loc, index)
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    lines[()] = node.start_mark.line + 1
    walk(node, ())
    return lines


def parse_definition(text: str) -> CampaignDefinition:
    """Parse and validate a campaign file; raises DefinitionError naming lines and fields."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = exc.problem or str(exc)
        raise DefinitionError(
            [LineProblem(line, (), "campaign.error.not_yaml", {"detail": detail})]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(
            [LineProblem(None, (), "campaign.error.not_yaml", {"detail": str(exc)})]
        ) from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        raise DefinitionError([LineProblem(1, (), "campaign.error.not_a_mapping", {})])
    lines = _line_map(node)

    def line_of(loc: tuple[str | int, ...]) -> int | None:
        while loc:
            if loc in lines:
                return lines[loc]
            loc = loc[:-1]
        return lines.get(())

    try:
        definition = CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(error, line_of) for error in exc.errors()]
        raise DefinitionError(problems) from None
    definition._lines = lines
    problems = [
        LineProblem(line_of(loc), loc, code, params)
        for loc, code, params in definition_problems(definition)
    ]
    if problems:
        raise DefinitionError(problems)
    return definition


_PYDANTIC_CODES = {
    "missing": "campaign.error.missing",
    "extra_forbidden": "campaign.error.unknown_key",
    "int_parsing": "campaign.error.not_int",
    "int_type": "campaign.error.not_int",
    "int_from_float": "campaign.error.not_int",
    "float_parsing": "campaign.error.not_float",
    "float_type": "campaign.error.not_float",
    "bool_parsing": "campaign.error.not_bool",
    "bool_type": "campaign.error.not_bool",
    "date_parsing": "campaign.error.bad_date",
    "date_type": "campaign.error.bad_date",
    "date_from_datetime_parsing": "campaign.error.bad_date",
    "date_from_datetime_inexact": "campaign.error.bad_date",
    "time_parsing": "campaign.error.bad_time",
    "time_type": "campaign.error.bad_time",
    "string_type": "campaign.error.not_text",
    "string_too_short": "campaign.error.empty",
    "string_too_long": "campaign.error.text_too_long",
    "string_pattern_mismatch": "campaign.error.bad_key",
    "greater_than_equal": "campaign.error.ge",
    "less_than_equal": "campaign.error.le",
    "too_short": "campaign.error.empty_list",
    "list_type": "campaign.error.not_list",
    "tuple_type": "campaign.error.not_list",
    "dict_type": "campaign.error.not_mapping",
    "model_type": "campaign.error.not_mapping",
    "model_attributes_type": "campaign.error.not_mapping",
    "enum": "campaign.error.not_allowed",
    "literal_error": "campaign.error.not_allowed",
    "too_long": "campaign.error.list_too_long",
}


def _from_pydantic(error: Any, line_of: Any) -> LineProblem:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    code = _PYDANTIC_CODES.get(kind, "campaign.error.invalid")
    if kind in ("enum", "literal_error") and loc and loc[-1] == "type":
        code = "campaign.error.field_type"
    expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
    params = {
        "value": value if isinstance(value, str | int | float) else "",
        "expected": expected,
        "limit": ctx.get("ge", ctx.get("le", ctx.get("max_length", ctx.get("min_length", "")))),
        "detail": error.get("msg", ""),
    }
    return LineProblem(line_of(loc), loc, code, params)


def definition_problems(
    definition: CampaignDefinition,
) -> list[tuple[tuple[str | int, ...], str, dict[str, Any]]]:
    """What the schema cannot see: dates out of order, duplicate keys, form mistakes ..."""
    problems: list[tuple[tuple[str | int, ...], str, dict[str, Any]]] = []
    info = definition.campaign
    try:
        ZoneInfo(info.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            (("campaign", "timezone"), "campaign.error.unknown_timezone", {"value": info.timezone})
        )
    if info.end_date is not None and info.end_date < info.start_date:
        problems.append(
            (
                ("campaign", "end_date"),
                "campaign.error.end_before_start",
                {"end": _d(info.end_date), "start": _d(info.start_date)},
            )
        )
    seen: set[str] = set()
    for index, item in enumerate(definition.deliverables):
        where: tuple[str | int, ...] = ("deliverables", index)
        if item.key in seen:
            problems.append(
                ((*where, "key"), "campaign.error.duplicate_deliverable", {"key": item.key})
            )
        seen.add(item.key)
        for level, due in item.deadlines.items():
            if due < info.start_date:
                problems.append(
                    (
                        (*where, "deadlines", level),
                        "campaign.error.deadline_before_start",
                        {"date": _d(due), "start": _d(info.start_date)},
                    )
                )
            if info.end_date is not None and due > info.end_date:
                problems.append(
                    (
                        (*where, "deadlines", level),
                        "campaign.error.deadline_after_end",
                        {"date": _d(due), "end": _d(info.end_date)},
                    )
                )
        for problem in form_problems(item.form()):
            problems.append(((*where, *problem.loc), problem.code, problem.params))
    return problems


def _d(value: date) -> str:
    return f"{value.day}/{value.month}/{value.year}"


def template_text() -> str:
    """The built-in campaign file (the article's campaign), exactly as packaged."""
    return resources.files("storage.templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


# --- database ------------------------------------------------------------------------------------


def form_of(deliverable: Deliverable) -> Form:
    return Form.model_validate(deliverable.form)


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
    scope = definition.campaign.scope
    scope_id: int | None = None
    if scope is not None:
        query = select(col(Unit.id)).where(col(Unit.code) == scope)
        scope_id = (await session.execute(query)).scalar_one_or_none()
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
) -> Campaign:
    """Create or update the campaign with this reference (never a duplicate). Deliverables are
    matched by key; their deadlines are replaced. Raises DefinitionError (nothing written) for
    unknown levels or scope, or when a deliverable that already has reports was left out."""
    info = definition.campaign
    problems, scope_id = await _database_problems(session=session, definition=definition)
    existing = (
        await session.execute(select(Campaign).where(col(Campaign.reference) == info.reference))
    ).scalar_one_or_none()
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
                None, ("deliverables",), "campaign.error.removed_with_reports", {"key": row.key}
            )
            for row in dropped
            if row.id in with_reports
        )
    if problems:
        raise DefinitionError(problems)

    columns: dict[str, Any] = {
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
        campaign = Campaign(reference=info.reference, created_at=now, **columns)
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
