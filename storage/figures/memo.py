"""Built statements kept for reuse: the on-demand digest (/tonghop) asks the same few questions
about the same scope at a different moment each time, so its statements are built once, with the
moment as the bound parameter `as_of`, and executed again with a new value.

Building a figures statement (the scope CTE, the expected rows, the version-as-of subqueries,
their column collections) and generating its cache key cost more CPU than running it on SQLite;
a statement object kept here is neither rebuilt nor re-keyed (SQLAlchemy memoises the key on the
object, and its compiled form sits in the engine's cache).

A key must name everything the statement depends on except `as_of`: the campaign context
(`context_key`), the scope's rows and whatever else the builder reads. Only small statements are
kept (`SMALL_SCOPE` VALUES rows at most): the weekly pass's big ones are built once a week."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BindParameter, bindparam

from storage.figures.query import CampaignContext
from storage.types import UTCDateTime

# Statements kept per process (least recently used dropped first), and the most VALUES rows
# (scope ranges + unit ids) a kept statement may carry.
MEMO_SIZE = 256
SMALL_SCOPE = 64
AS_OF = "as_of"

S = TypeVar("S")


def as_of_param() -> BindParameter[datetime]:
    """The placeholder a kept statement reads its moment from: pass {AS_OF: moment}."""
    return bindparam(AS_OF, type_=UTCDateTime())


def context_key(ctx: CampaignContext) -> Hashable:
    """Everything of the campaign context a figures, list or shortcomings statement is built
    from (ids, deliverables and their names, deadlines and their day ends, levels, groups, depth,
    basis, thresholds)."""
    return (
        ctx.id,
        ctx.scope_path,
        ctx.approved_only,
        ctx.min_session_halfdays,
        ctx.essay_rate_threshold,
        tuple(sorted(ctx.deadline_ends.items())),
        ctx.deadline_rows,
        tuple((d.id, d.key, d.position, d.name_vi, d.name_en) for d in ctx.deliverables),
        ctx.levels,
        ctx.groups,
        ctx.max_depth,
    )


class StatementMemo:
    """A bounded least-recently-used map from a key to a built statement."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], S]) -> S:
        if key in self._items:
            self._items.move_to_end(key)
            found: S = self._items[key]
            return found
        built = build()
        self._items[key] = built
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return built

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


STATEMENTS = StatementMemo()
