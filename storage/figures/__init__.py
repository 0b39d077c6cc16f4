"""Campaign figures: units expected / reported / on time / late / missing and the pooled rates.

Definitions (as the product defines them):

- expected: the unit is active at `as_of` (active, or deactivated after `as_of`), inside the
  campaign's scope and the requested scope, and its level has a deadline for the deliverable;
- reported: it has a report for that deliverable first confirmed at or before `as_of`;
- on time: first confirmed before the end of the deadline day in the campaign's timezone
  (a later correction never makes it late); late = reported - on time;
  missing = expected - reported;
- measures come from each report's latest version created at or before `as_of`, so figures
  "as of a week ago" are exactly what the data said then;
- rates are pooled (sum over sum), exact fractions: attendance = attended / members, essay =
  essays / attended, action program = units with a program / units expected, action plan =
  heads with a plan / heads.

A measure is read from whichever deliverable's versions carry it (non-null column); no deliverable
key is hard-coded. Everything is computed by set-based GROUP BY queries; nothing loops over units.

The package by reason to change: `values` (the value objects the figures are made of), `query`
(the campaign context and the query pieces shared with shortcomings and digests), `compute`
(one scope's figures and the per-unit listing), `many` (many scopes in one statement, digests).
"""

from __future__ import annotations

from storage.figures.compute import (
    UnitDeliverable,
    UnitFigures,
    compute_figures,
    unit_rows,
)
from storage.figures.many import (
    ROWS_PER_STATEMENT,
    SCOPES_PER_STATEMENT,
    WHOLE_TREE_END,
    K,
    UnitScope,
    compute_figures_many,
    digest_units,
    figures_for_people,
    kept_scoped,
    scope_chunks,
)
from storage.figures.query import (
    LISTED_UNIT,
    CampaignContext,
    choose_carriers,
    deadline_end,
    expected_rows,
    load_campaign,
    scope_condition,
    version_as_of,
)
from storage.figures.values import (
    CAMPAIGN,
    DEADLINE,
    DELIVERABLE,
    FIGURE_MEASURES,
    LEVEL,
    PROGRAM,
    REPORT,
    SESSION_MEASURES,
    STATUS_LATE,
    STATUS_MISSING,
    STATUS_ON_TIME,
    SUMMED,
    UNIT,
    VERSION,
    WEEK,
    CampaignNotFound,
    Cell,
    DeliverableInfo,
    Figures,
    GroupFigures,
    LevelInfo,
    Rate,
    Status,
    rate_change,
)

__all__ = [
    "CAMPAIGN",
    "DEADLINE",
    "DELIVERABLE",
    "FIGURE_MEASURES",
    "LEVEL",
    "LISTED_UNIT",
    "PROGRAM",
    "REPORT",
    "ROWS_PER_STATEMENT",
    "SCOPES_PER_STATEMENT",
    "SESSION_MEASURES",
    "STATUS_LATE",
    "STATUS_MISSING",
    "STATUS_ON_TIME",
    "SUMMED",
    "UNIT",
    "VERSION",
    "WEEK",
    "WHOLE_TREE_END",
    "CampaignContext",
    "CampaignNotFound",
    "Cell",
    "DeliverableInfo",
    "Figures",
    "GroupFigures",
    "K",
    "LevelInfo",
    "Rate",
    "Status",
    "UnitDeliverable",
    "UnitFigures",
    "UnitScope",
    "choose_carriers",
    "compute_figures",
    "compute_figures_many",
    "deadline_end",
    "digest_units",
    "expected_rows",
    "figures_for_people",
    "kept_scoped",
    "load_campaign",
    "rate_change",
    "scope_chunks",
    "scope_condition",
    "unit_rows",
    "version_as_of",
]
