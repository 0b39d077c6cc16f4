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
    UnitDeliverable as UnitDeliverable,
)
from storage.figures.compute import (
    UnitFigures as UnitFigures,
)
from storage.figures.compute import (
    compute_change as compute_change,
)
from storage.figures.compute import (
    compute_figures as compute_figures,
)
from storage.figures.compute import (
    unit_rows as unit_rows,
)
from storage.figures.many import (
    ROWS_PER_STATEMENT as ROWS_PER_STATEMENT,
)
from storage.figures.many import (
    SCOPES_PER_STATEMENT as SCOPES_PER_STATEMENT,
)
from storage.figures.many import (
    WHOLE_TREE_END as WHOLE_TREE_END,
)
from storage.figures.many import (
    K as K,
)
from storage.figures.many import (
    UnitScope as UnitScope,
)
from storage.figures.many import (
    compute_figures_many as compute_figures_many,
)
from storage.figures.many import (
    digest_units as digest_units,
)
from storage.figures.many import (
    figures_for_people as figures_for_people,
)
from storage.figures.many import (
    scope_chunks as scope_chunks,
)
from storage.figures.many import (
    scoped_units as scoped_units,
)
from storage.figures.query import (
    CampaignContext as CampaignContext,
)
from storage.figures.query import (
    choose_carriers as choose_carriers,
)
from storage.figures.query import (
    deadline_end as deadline_end,
)
from storage.figures.query import (
    expected_rows as expected_rows,
)
from storage.figures.query import (
    load_campaign as load_campaign,
)
from storage.figures.query import (
    scope_condition as scope_condition,
)
from storage.figures.query import (
    version_as_of as version_as_of,
)
from storage.figures.values import (
    CAMPAIGN as CAMPAIGN,
)
from storage.figures.values import (
    DEADLINE as DEADLINE,
)
from storage.figures.values import (
    DELIVERABLE as DELIVERABLE,
)
from storage.figures.values import (
    FIGURE_MEASURES as FIGURE_MEASURES,
)
from storage.figures.values import (
    LEVEL as LEVEL,
)
from storage.figures.values import (
    PROGRAM as PROGRAM,
)
from storage.figures.values import (
    REPORT as REPORT,
)
from storage.figures.values import (
    SESSION_MEASURES as SESSION_MEASURES,
)
from storage.figures.values import (
    STATUS_LATE as STATUS_LATE,
)
from storage.figures.values import (
    STATUS_MISSING as STATUS_MISSING,
)
from storage.figures.values import (
    STATUS_ON_TIME as STATUS_ON_TIME,
)
from storage.figures.values import (
    SUMMED as SUMMED,
)
from storage.figures.values import (
    UNIT as UNIT,
)
from storage.figures.values import (
    VERSION as VERSION,
)
from storage.figures.values import (
    WEEK as WEEK,
)
from storage.figures.values import (
    CampaignNotFound as CampaignNotFound,
)
from storage.figures.values import (
    Cell as Cell,
)
from storage.figures.values import (
    DeliverableInfo as DeliverableInfo,
)
from storage.figures.values import (
    Figures as Figures,
)
from storage.figures.values import (
    GroupFigures as GroupFigures,
)
from storage.figures.values import (
    LevelInfo as LevelInfo,
)
from storage.figures.values import (
    Rate as Rate,
)
from storage.figures.values import (
    Status as Status,
)
from storage.figures.values import (
    rate_change as rate_change,
)
