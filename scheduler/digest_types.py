"""What a digest says, as data: built by `scheduler.digest`, rendered by `scheduler.digest_text`
(the text) and `scheduler.digest_chart` (the image). The renderers depend on these types only, never
on the queries, and the queries never on the renderers' modules at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.figures import Figures
from storage.shortcomings import Shortcoming


@dataclass(frozen=True)
class DigestUnit:
    code: str
    name: str
    level_code: str
    deliverables: tuple[str, ...]  # keys of the deliverables concerned, in form order


@dataclass(frozen=True)
class UnitList:
    units: tuple[DigestUnit, ...]  # the first `LIST_CAP`, tree order
    total: int  # how many units in all

    @property
    def more(self) -> int:
        return self.total - len(self.units)


@dataclass(frozen=True)
class UnreachablePerson:
    person_id: int
    full_name: str
    role: str
    unit_code: str
    unit_name: str
    since: datetime


@dataclass(frozen=True)
class CampaignDigest:
    figures: Figures  # `figures.previous` = one week earlier
    overdue: UnitList  # no report and the deadline day has ended
    late: UnitList  # reported after the deadline day
    shortcomings: tuple[Shortcoming, ...]

    @property
    def expected(self) -> int:
        """Distinct units expected in the scope: the units the headline, the lists and the
        shortcomings count (`GroupFigures.units`)."""
        return self.figures.total.expected_units


@dataclass(frozen=True)
class DigestData:
    person_id: int
    full_name: str
    lang: str
    is_admin: bool
    now: datetime
    campaigns: tuple[CampaignDigest, ...]
    unreachable: tuple[UnreachablePerson, ...]
    unreachable_total: int
    pending_reviews: int = 0  # reports awaiting this person's review (storage.review)
