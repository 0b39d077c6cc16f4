"""Shortcomings (hạn chế) found in the data, the kinds the article names.

The article's list and what it maps to:

- "Một số đơn vị chưa đảm bảo thời gian học tập, quán triệt" -> SHORT_SESSION: the study session
  lasted fewer half-day sessions (buổi) than the campaign's minimum;
- "Số ít cán bộ, đảng viên ngại viết bài thu hoạch" -> LOW_ESSAY_RATE: the unit's essays /
  members attending is under the campaign's threshold;
- "Một số đảng bộ chưa tập hợp đầy đủ kế hoạch hành động ... của cấp ủy, người đứng đầu" ->
  ACTION_PLANS_INCOMPLETE: heads with an action plan < heads;
- the action program every cell and committee must build -> NO_ACTION_PROGRAM: its deadline day
  has ended and the unit reported that it has none (a unit that has not reported is
  MISSING_REPORT, "chưa báo cáo", never "chưa xây dựng");
- the reporting itself -> MISSING_REPORT: a deliverable's deadline day has ended and the unit has
  not reported it (one shortcoming per deliverable).

- "Chất lượng một số báo cáo viên cơ sở chưa cao" -> PRESENTER_QUALITY: the session was assessed
  "chưa đạt" by a supervisor or reviewer (storage.assessments) by `as_of`, or its presenter is
  none of the standings the campaign expects (presenter standing "khác").

Every kind is one check on the (unit, deliverable) rows counted by the figures (same scope, same
as-of versions; see storage.figures): one set-based statement finds the units and counts the units
each kind was checked over (`Shortcoming.covered`, the base its wording's share is
taken of: storage.shortcoming_text).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import require_aware
from storage.figures import (
    DEADLINE,
    LISTED_UNIT,
    PROGRAM,
    REPORT,
    UNIT,
    VERSION,
    CampaignContext,
    UnitScope,
    choose_carriers,
    expected_rows,
    kept_scoped,
    load_campaign,
)
from storage.figures.memo import AS_OF, STATEMENTS, as_of_param, context_key
from storage.models import ASSESSMENT_FAILED

SHORT_SESSION = "short_session"
LOW_ESSAY_RATE = "low_essay_rate"
NO_ACTION_PROGRAM = "no_action_program"
ACTION_PLANS_INCOMPLETE = "action_plans_incomplete"
MISSING_REPORT = "missing_report"
PRESENTER_QUALITY = "presenter_quality"
KINDS = (
    PRESENTER_QUALITY,
    SHORT_SESSION,
    LOW_ESSAY_RATE,
    ACTION_PLANS_INCOMPLETE,
    NO_ACTION_PROGRAM,
    MISSING_REPORT,
)
# A presenter standing that is a shortcoming by itself (the form's choice value).
OTHER_PRESENTER = "khac"


@dataclass(frozen=True)
class ShortcomingUnit:
    code: str
    name: str
    level_code: str


@dataclass(frozen=True)
class Shortcoming:
    """`units` were found, out of the `covered` units the check was applied to (the base of the
    share that words it, storage.shortcoming_text): a session reported for the presenter and the
    session length, attendance and essays reported for the essay rate, heads reported for the
    action plans, the program reported for the program, the deliverable due for a missing report.
    """

    kind: str
    units: tuple[ShortcomingUnit, ...]
    covered: int
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Check:
    """One shortcoming's test on a (unit, deliverable) row: `flag` finds it, `covered` says the
    row could show it at all (the data it is read from are there)."""

    kind: str
    flag: ColumnElement[bool]
    covered: ColumnElement[bool]
    deliverable: int | None = None  # MISSING_REPORT: one check per deliverable
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.kind if self.deliverable is None else f"{self.kind}_{self.deliverable}"


def _threshold(value: float) -> Fraction:
    """The essay threshold as an exact fraction (0.9 -> 9/10), compared in integers in SQL."""
    return Fraction(str(value)).limit_denominator(10_000)


def _passed_deadlines(ctx: CampaignContext, as_of: datetime) -> list[int]:
    """Deadline ids whose day (campaign timezone) has ended by `as_of`."""
    return [dl_id for dl_id, end in ctx.deadline_ends.items() if as_of >= end]


async def _checks(
    ctx: CampaignContext, as_of: datetime, session: AsyncSession
) -> tuple[Hashable, list[_Check]]:
    """Every check, in the order of `KINDS` (MISSING_REPORT in the campaign's deliverable order),
    their moment the bound parameter `AS_OF`; with the key that names them (kept,
    `storage.figures.memo`: the same for every scope of the campaign until a deadline passes)."""
    passed = tuple(_passed_deadlines(ctx, as_of))
    program_carrier = None
    if passed:
        # The form declaration says which deliverable carries the program; failing that, the
        # versions do (see storage.figures.choose_carriers).
        carriers = await choose_carriers(ctx, {}, session=session, measures=(PROGRAM,))
        program_carrier = carriers.get(PROGRAM)
    key = ("shortcoming checks", context_key(ctx), passed, program_carrier)
    return key, STATEMENTS.get(key, lambda: _built_checks(ctx, passed, program_carrier))


def _built_checks(
    ctx: CampaignContext, passed: tuple[int, ...], program_carrier: int | None
) -> list[_Check]:
    as_of = as_of_param()
    threshold = _threshold(ctx.essay_rate_threshold)
    assessed = and_(REPORT.c.assessment.is_not(None), REPORT.c.assessed_at <= as_of)
    checks = [
        _Check(
            PRESENTER_QUALITY,
            or_(
                VERSION.c.presenter_standing == OTHER_PRESENTER,
                and_(assessed, REPORT.c.assessment == ASSESSMENT_FAILED),
            ),
            or_(VERSION.c.presenter_standing.is_not(None), assessed),
        ),
        _Check(
            SHORT_SESSION,
            VERSION.c.duration_halfdays < ctx.min_session_halfdays,
            VERSION.c.duration_halfdays.is_not(None),
            params={"min_session_halfdays": ctx.min_session_halfdays},
        ),
        _Check(
            LOW_ESSAY_RATE,
            and_(
                VERSION.c.attended > 0,
                VERSION.c.essays * threshold.denominator < VERSION.c.attended * threshold.numerator,
            ),
            and_(VERSION.c.attended > 0, VERSION.c.essays.is_not(None)),
            params={"threshold": threshold},
        ),
        _Check(
            ACTION_PLANS_INCOMPLETE,
            VERSION.c.heads_with_plan < VERSION.c.heads,
            and_(VERSION.c.heads > 0, VERSION.c.heads_with_plan.is_not(None)),
        ),
    ]
    if not passed:
        return checks
    if program_carrier is not None:
        due = and_(DEADLINE.c.id.in_(passed), DEADLINE.c.deliverable_id == program_carrier)
        # Reported without a program. A unit that has not reported is "chưa báo cáo"
        # (MISSING_REPORT), never "chưa xây dựng": one line per cause.
        reported = and_(due, REPORT.c.id.is_not(None))
        checks.append(
            _Check(
                NO_ACTION_PROGRAM,
                and_(reported, VERSION.c.action_program.is_not(True)),
                reported,
                params={"deliverable": ctx.key_of(program_carrier)},
            )
        )
    for d in ctx.deliverables:
        due = and_(DEADLINE.c.id.in_(passed), DEADLINE.c.deliverable_id == d.id)
        checks.append(
            _Check(
                MISSING_REPORT,
                and_(due, REPORT.c.id.is_(None)),
                due,
                deliverable=d.id,
                params={"deliverable": d.key, "name_vi": d.name_vi, "name_en": d.name_en},
            )
        )
    return checks


async def find_shortcomings(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    context: CampaignContext | None = None,
    scope: UnitScope | None = None,
) -> list[Shortcoming]:
    """Every shortcoming kind that has at least one unit, in the order of `KINDS`; units in tree
    order; each with the number of units it was checked over. MISSING_REPORT comes once per
    deliverable (params: deliverable key and names).

    `scope` (the digest's): the units as the figures read a scope, in place of `unit_filter`,
    the statement kept for every scope of the same shape (`storage.figures.kept_scoped`: built
    and compiled once, not once per person)."""
    require_aware(as_of)
    if scope is not None and unit_filter is not None:
        raise ValueError("a scope replaces unit_filter")
    ctx = context or await load_campaign(session=session, campaign_id=campaign_id)
    if ctx.id != campaign_id:
        raise ValueError("the campaign context belongs to another campaign")
    checks_key, checks = await _checks(ctx, as_of, session)
    where: dict[str, Any] = {"as_of": as_of_param(), "root_path": root_path}
    moment: dict[str, Any] = {AS_OF: as_of}

    # One statement: each unit counted, once, with whether each check found it (`label`) and
    # could find it (`label_checked`); over all of them, how many each check covered; then only
    # the units found, in tree order.
    def listed(units: Any = UNIT) -> Any:
        per_unit = (
            expected_rows(
                ctx,
                [
                    *LISTED_UNIT,
                    *(func.max(case((c.flag, 1), else_=0)).label(c.label) for c in checks),
                    *(func.max(case((c.covered, 1), else_=0)).label(_checked(c)) for c in checks),
                ],
                **where,
                unit_filter=unit_filter,
                units=units,
            )
            .group_by(UNIT.c.id, *LISTED_UNIT)
            .subquery()
        )
        totals = [func.sum(per_unit.c[_checked(c)]).over().label(_covered(c)) for c in checks]
        counted = select(per_unit, *totals).subquery()
        return (
            select(counted)
            .where(or_(*(counted.c[c.label] == 1 for c in checks)))
            .order_by(counted.c.path)
        )

    # Each check's (found, covered) column names, worked out once rather than per row.
    columns = [(c.label, _covered(c)) for c in checks]
    units: dict[str, list[ShortcomingUnit]] = {label: [] for label, _ in columns}
    covered: dict[str, int] = {}
    if scope is None:
        stmt = listed()
    else:
        stmt, params = kept_scoped(
            ("shortcomings", checks_key, root_path),
            [scope],
            lambda units, _key: listed(units),
            session=session,
        )
        if stmt is None:  # no unit in the scope
            return []
        moment.update(params)
    for row in (await session.execute(stmt, moment)).mappings():
        unit: ShortcomingUnit | None = None
        for label, total in columns:
            covered[label] = row[total]
            if row[label]:
                unit = unit or ShortcomingUnit(row["code"], row["name"], row["level_code"])
                units[label].append(unit)
    return [
        Shortcoming(c.kind, tuple(units[c.label]), int(covered[c.label]), c.params)
        for c in checks
        if units[c.label]
    ]


def _checked(check: _Check) -> str:
    return f"{check.label}_checked"


def _covered(check: _Check) -> str:
    return f"{check.label}_covered"
