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

Every kind is one set-based query over the units counted by the figures (same scope, same as-of
versions; see storage.figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import require_aware
from storage.figures import (
    DEADLINE,
    DELIVERABLE,
    PROGRAM,
    REPORT,
    UNIT,
    VERSION,
    CampaignContext,
    choose_carriers,
    expected_rows,
    load_campaign,
)
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
    kind: str
    units: tuple[ShortcomingUnit, ...]
    params: Mapping[str, Any] = field(default_factory=dict)


def _threshold(value: float) -> Fraction:
    """The essay threshold as an exact fraction (0.9 -> 9/10), compared in integers in SQL."""
    return Fraction(str(value)).limit_denominator(10_000)


def _passed_deadlines(ctx: CampaignContext, as_of: datetime) -> list[int]:
    """Deadline ids whose day (campaign timezone) has ended by `as_of`."""
    return [dl_id for dl_id, end in ctx.deadline_ends.items() if as_of >= end]


def _unit(row: Any) -> ShortcomingUnit:
    return ShortcomingUnit(row.code, row.name, row.level_code)


async def find_shortcomings(
    *,
    session: AsyncSession,
    campaign_id: int,
    as_of: datetime,
    root_path: str | None = None,
    unit_filter: ColumnElement[bool] | None = None,
    context: CampaignContext | None = None,
) -> list[Shortcoming]:
    """Every shortcoming kind that has at least one unit, in the order of `KINDS`; units in tree
    order. MISSING_REPORT comes once per deliverable (params: deliverable key and names)."""
    require_aware(as_of)
    ctx = context or await load_campaign(session=session, campaign_id=campaign_id)
    if ctx.id != campaign_id:
        raise ValueError("the campaign context belongs to another campaign")
    threshold = _threshold(ctx.essay_rate_threshold)
    flags: dict[str, ColumnElement[bool]] = {
        PRESENTER_QUALITY: or_(
            VERSION.c.presenter_standing == OTHER_PRESENTER,
            and_(REPORT.c.assessment == ASSESSMENT_FAILED, REPORT.c.assessed_at <= as_of),
        ),
        SHORT_SESSION: VERSION.c.duration_halfdays < ctx.min_session_halfdays,
        LOW_ESSAY_RATE: and_(
            VERSION.c.attended > 0,
            VERSION.c.essays * threshold.denominator < VERSION.c.attended * threshold.numerator,
        ),
        ACTION_PLANS_INCOMPLETE: VERSION.c.heads_with_plan < VERSION.c.heads,
    }
    passed = _passed_deadlines(ctx, as_of)
    program_carrier = None
    if passed:
        # The form declaration says which deliverable carries the program; failing that, the
        # versions do (see storage.figures.choose_carriers).
        carriers = await choose_carriers(ctx, {}, session=session, measures=(PROGRAM,))
        program_carrier = carriers.get(PROGRAM)
        if program_carrier is not None:
            flags[NO_ACTION_PROGRAM] = and_(
                DEADLINE.c.id.in_(passed),
                DEADLINE.c.deliverable_id == program_carrier,
                # Reported without a program. A unit that has not reported is "chưa báo cáo"
                # (MISSING_REPORT), never "chưa xây dựng": one line per cause.
                REPORT.c.id.is_not(None),
                VERSION.c.action_program.is_not(True),
            )
        flags[MISSING_REPORT] = and_(DEADLINE.c.id.in_(passed), REPORT.c.id.is_(None))

    # One pass over the (unit, deliverable) pairs counted, keeping only the flagged ones.
    stmt = (
        expected_rows(
            ctx,
            [
                UNIT.c.code,
                UNIT.c.name,
                UNIT.c.level_code,
                DEADLINE.c.deliverable_id,
                *(case((condition, 1), else_=0).label(kind) for kind, condition in flags.items()),
            ],
            as_of=as_of,
            root_path=root_path,
            unit_filter=unit_filter,
        )
        .where(or_(*flags.values()))
        .order_by(UNIT.c.path, DELIVERABLE.c.position, DELIVERABLE.c.id)
    )
    units: dict[tuple[str, int | None], dict[str, ShortcomingUnit]] = {}
    for row in (await session.execute(stmt)).all():
        for kind in flags:
            if getattr(row, kind):
                bucket = row.deliverable_id if kind == MISSING_REPORT else None
                units.setdefault((kind, bucket), {}).setdefault(row.code, _unit(row))

    def listed(kind: str, bucket: int | None = None) -> tuple[ShortcomingUnit, ...]:
        return tuple(units.get((kind, bucket), {}).values())

    found: list[Shortcoming] = []
    if weak := listed(PRESENTER_QUALITY):
        found.append(Shortcoming(PRESENTER_QUALITY, weak))
    if short := listed(SHORT_SESSION):
        found.append(
            Shortcoming(SHORT_SESSION, short, {"min_session_halfdays": ctx.min_session_halfdays})
        )
    if low := listed(LOW_ESSAY_RATE):
        found.append(Shortcoming(LOW_ESSAY_RATE, low, {"threshold": threshold}))
    if incomplete := listed(ACTION_PLANS_INCOMPLETE):
        found.append(Shortcoming(ACTION_PLANS_INCOMPLETE, incomplete))
    if program_carrier is not None and (no_program := listed(NO_ACTION_PROGRAM)):
        found.append(
            Shortcoming(NO_ACTION_PROGRAM, no_program, {"deliverable": ctx.key_of(program_carrier)})
        )
    for d in ctx.deliverables:
        if missing := listed(MISSING_REPORT, d.id):
            found.append(
                Shortcoming(
                    MISSING_REPORT,
                    missing,
                    {"deliverable": d.key, "name_vi": d.name_vi, "name_en": d.name_en},
                )
            )
    return found
