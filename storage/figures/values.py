"""The value objects of the figures (statuses, rates, per-level cells) and the table handles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

from storage.clock import local_date
from storage.models import metadata

UNIT = metadata.tables["unit"]
LEVEL = metadata.tables["level"]
CAMPAIGN = metadata.tables["campaign"]
DELIVERABLE = metadata.tables["deliverable"]
DEADLINE = metadata.tables["deliverable_deadline"]
REPORT = metadata.tables["report"]
VERSION = metadata.tables["report_version"]

STATUS_ON_TIME = "on_time"
STATUS_LATE = "late"
STATUS_MISSING = "missing"

# Measures summed into the figures (integers), and the yes/no measure counted as units.
SUMMED = ("members", "attended", "nonmembers_attended", "essays", "heads_with_plan", "heads")
PROGRAM = "action_program"
# Which measure tells which deliverable is "the study session" (first one carried wins).
SESSION_MEASURES = ("session_date", "attended", "duration_halfdays")
# Measures a figure depends on: looked up campaign-wide when the counted versions lack them.
FIGURE_MEASURES = (
    "session_date",
    "members",
    "attended",
    "essays",
    PROGRAM,
    "heads_with_plan",
    "heads",
)

WEEK = timedelta(days=7)


class CampaignNotFound(LookupError):
    pass


# ---------------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True)
class Rate:
    """An exact pooled rate; `value` is None when the denominator is 0 (shown as "—")."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None


@dataclass(frozen=True)
class LevelInfo:
    code: str
    label_vi: str
    label_en: str
    rank: int


@dataclass(frozen=True)
class DeliverableInfo:
    id: int
    key: str
    name_vi: str
    name_en: str
    position: int
    due_dates: Mapping[str, date]  # level code -> due date


@dataclass(frozen=True)
class ReportingGroup:
    """A campaign's reporting group ("cấp tỉnh và cấp huyện" = tinh + huyen), as declared."""

    code: str
    label_vi: str
    label_en: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    expected: int = 0
    reported: int = 0
    on_time: int = 0

    @property
    def late(self) -> int:
        return self.reported - self.on_time

    @property
    def missing(self) -> int:
        return self.expected - self.reported

    @property
    def reported_rate(self) -> Rate:
        return Rate(self.reported, self.expected)

    def __add__(self, other: Status) -> Status:
        return Status(
            self.expected + other.expected,
            self.reported + other.reported,
            self.on_time + other.on_time,
        )

    def __sub__(self, other: Status) -> Status:
        return Status(
            self.expected - other.expected,
            self.reported - other.reported,
            self.on_time - other.on_time,
        )


@dataclass(frozen=True)
class Cell:
    """One deliverable at one level: status counts, sums of its measures, non-null counts."""

    status: Status = Status()
    sums: Mapping[str, int] = field(default_factory=dict)
    carried: Mapping[str, int] = field(default_factory=dict)  # measure -> non-null versions
    programs: int = 0  # versions with action_program true

    def __add__(self, other: Cell) -> Cell:
        return Cell(
            status=self.status + other.status,
            sums={m: self.sums.get(m, 0) + other.sums.get(m, 0) for m in {*self.sums, *other.sums}},
            carried={
                m: self.carried.get(m, 0) + other.carried.get(m, 0)
                for m in {*self.carried, *other.carried}
            },
            programs=self.programs + other.programs,
        )

    def __sub__(self, other: Cell) -> Cell:
        return Cell(
            status=self.status - other.status,
            sums={m: v - other.sums.get(m, 0) for m, v in self.sums.items()},
            carried={m: v - other.carried.get(m, 0) for m, v in self.carried.items()},
            programs=self.programs - other.programs,
        )


@dataclass(frozen=True)
class GroupFigures:
    """Figures for one level or several levels pooled ("cấp tỉnh và cấp huyện")."""

    levels: tuple[LevelInfo, ...]
    # Member sums, by the members' rule: a unit a counted owner covers is not added, so no
    # member (attending, writing an essay, a head with a plan) is counted twice.
    members: int
    attended: int
    nonmembers_attended: int
    essays: int
    heads_with_plan: int
    heads: int
    label_vi: str | None = None  # the reporting group's own label, when it is one
    label_en: str | None = None
    # Unit counts, the one rule for them: every expected unit at the pool's levels, a cell and
    # the committee it belongs to both (both must report), the same units the late and overdue
    # lists and the shortcomings name; the digests, the report paragraph and the workbook count
    # units by these only.
    units: Mapping[str, Status] = field(default_factory=dict)  # deliverable key -> status
    expected_units: int = 0  # distinct units expected for at least one deliverable
    units_with_program_all: int = 0  # of those units, the ones with an action programme
    program_units_expected: int = 0
    unit_session: Status = Status()  # `units` of the deliverable carrying the study session

    @property
    def unit_program(self) -> Rate:
        """Units with an action programme / units expected, every expected unit counted."""
        return Rate(self.units_with_program_all, self.program_units_expected)

    def label(self, lang: str) -> str | None:
        return self.label_en if lang == "en" else self.label_vi

    @property
    def attendance(self) -> Rate:
        return Rate(self.attended, self.members)

    @property
    def essay(self) -> Rate:
        return Rate(self.essays, self.attended)

    @property
    def action_plan(self) -> Rate:
        return Rate(self.heads_with_plan, self.heads)

    @property
    def level_codes(self) -> tuple[str, ...]:
        return tuple(level.code for level in self.levels)


@dataclass(frozen=True)
class Figures:
    campaign_id: int
    reference: str
    campaign_name: str
    timezone: str
    as_of: datetime
    min_session_halfdays: int
    essay_rate_threshold: float
    deliverables: tuple[DeliverableInfo, ...]
    levels: tuple[LevelInfo, ...]  # every level some deliverable applies to, by rank
    carriers: Mapping[str, str]  # measure -> deliverable key carrying it
    cells: Mapping[tuple[str, str], Cell]  # (deliverable key, level code) -> cell
    combined: tuple[GroupFigures, ...] = ()
    previous: Figures | None = None  # the same figures one week earlier, when asked for
    # (deliverable key, level, covering levels) -> the part of the (key, level) cell made of units
    # whose members counted ancestors at those levels already hold (`storage.figures.overlap`).
    covered: Mapping[tuple[str, str, frozenset[str]], Cell] = field(default_factory=dict)
    groups: tuple[ReportingGroup, ...] = ()  # the campaign's reporting groups, as declared
    approved_only: bool = False  # computed over approved report versions only

    @property
    def as_of_date(self) -> date:
        return local_date(self.as_of, self.timezone)

    @property
    def per_level(self) -> tuple[GroupFigures, ...]:
        return tuple(self.group((level.code,)) for level in self.levels)

    @property
    def total(self) -> GroupFigures:
        return self.group(tuple(level.code for level in self.levels))

    def level(self, code: str) -> GroupFigures:
        return self.group((code,))

    def deliverable(self, key: str) -> DeliverableInfo:
        for info in self.deliverables:
            if info.key == key:
                return info
        raise KeyError(key)

    @property
    def reporting_groups(self) -> tuple[GroupFigures, ...]:
        """One pooled figure per reporting group the campaign declares (none declared: none)."""
        return tuple(
            self.group(g.levels, label_vi=g.label_vi, label_en=g.label_en) for g in self.groups
        )

    @property
    def table_groups(self) -> tuple[GroupFigures, ...]:
        """The rows of a figures table: the campaign's reporting groups (cấp tỉnh và cấp huyện;
        cấp cơ sở), then one row pooling the levels no group holds (the cells, "Chi bộ trực
        thuộc"), so the rows' unit counts add up to the total's; without groups, the levels."""
        if not self.groups:
            return self.per_level
        rest = tuple(level.code for level in self.ungrouped)
        return (*self.reporting_groups, *((self.group(rest),) if rest else ()))

    def pooled_cell(self, key: str, level: str, wanted: Iterable[str]) -> Cell:
        """The (key, level) cell without the units whose members an expected ancestor at one of
        the `wanted` levels already counts: what a pool of `wanted` may add for this level."""
        cell = self.cells.get((key, level), Cell())
        due = next((d.due_dates for d in self.deliverables if d.key == key), {})
        pooled = {code for code in wanted if code in due}
        for (k, lvl, covers), part in self.covered.items():
            if k == key and lvl == level and covers & pooled:
                cell = cell - part
        return cell

    def group(
        self,
        codes: Iterable[str],
        *,
        label_vi: str | None = None,
        label_en: str | None = None,
    ) -> GroupFigures:
        """Pool the given levels (unknown codes count as levels with no unit). The member sums
        never add a unit covered by an ancestor the pool also counts (no member is counted
        twice); the unit counts count every expected unit (`unit_status`)."""
        wanted = list(dict.fromkeys(codes))
        known = {level.code: level for level in self.levels}
        levels = tuple(known.get(code, LevelInfo(code, code, code, 0)) for code in wanted)
        cells = {
            (d.key, code): self.pooled_cell(d.key, code, wanted)
            for d in self.deliverables
            for code in wanted
        }
        units = self.unit_status(wanted)

        def total(measure: str) -> int:
            carrier = self.carriers.get(measure)
            if carrier is None:
                return 0
            return sum(cells.get((carrier, c), Cell()).sums.get(measure, 0) for c in wanted)

        program_key = self.carriers.get(PROGRAM)
        session_key = next((self.carriers[m] for m in SESSION_MEASURES if m in self.carriers), None)
        return GroupFigures(
            levels=levels,
            members=total("members"),
            attended=total("attended"),
            nonmembers_attended=total("nonmembers_attended"),
            essays=total("essays"),
            heads_with_plan=total("heads_with_plan"),
            heads=total("heads"),
            label_vi=label_vi,
            label_en=label_en,
            units=units,
            expected_units=self.expected_units(wanted),
            units_with_program_all=sum(
                self.cells.get((program_key, c), Cell()).programs for c in wanted
            )
            if program_key
            else 0,
            program_units_expected=units[program_key].expected if program_key else 0,
            unit_session=units[session_key] if session_key else Status(),
        )

    def unit_status(self, codes: Iterable[str]) -> dict[str, Status]:
        """The one rule for unit counts: per deliverable, every expected unit at these levels
        (the level cells as they are; the members' no-double-counting rule is for members)."""
        wanted = list(dict.fromkeys(codes))
        return {
            d.key: sum((self.cells.get((d.key, c), Cell()).status for c in wanted), Status())
            for d in self.deliverables
        }

    def expected_units(self, codes: Iterable[str]) -> int:
        """Distinct units expected at these levels: a level's units are expected for every
        deliverable the level owes, so each level counts its largest deliverable count."""
        return sum(
            max(
                (self.cells.get((d.key, c), Cell()).status.expected for d in self.deliverables),
                default=0,
            )
            for c in dict.fromkeys(codes)
        )

    @property
    def ungrouped(self) -> tuple[LevelInfo, ...]:
        """The levels some deliverable applies to that no declared reporting group holds (the
        cells under grassroots committees, by default); none when no group is declared."""
        if not self.groups:
            return ()
        grouped = {code for g in self.groups for code in g.levels}
        return tuple(level for level in self.levels if level.code not in grouped)


def rate_change(current: Rate, previous: Rate) -> Fraction | None:
    """Change in percentage points between two rates (None when either is undefined)."""
    if current.value is None or previous.value is None:
        return None
    return (current.value - previous.value) * 100
