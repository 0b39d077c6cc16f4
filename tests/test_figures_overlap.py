"""No member counted twice (storage.figures.overlap): for random trees and reports, every pooled
figure's members equal the number of distinct people it claims to cover."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from storage.db import Database, create_engine
from storage.figures import compute_figures
from storage.models import Campaign, metadata
from tests.figures_fixtures import Builder, utc

LEVELS = ("tinh", "huyen", "co_so", "chi_bo")
# Default groups, as the article: tinh+huyen and co_so report separately; chi_bo does not.
GROUPS = [
    {
        "code": "tinh_huyen",
        "label_vi": "cấp tỉnh và cấp huyện",
        "label_en": "p+d",
        "levels": ["tinh", "huyen"],
    },
    {"code": "co_so", "label_vi": "cấp cơ sở", "label_en": "grassroots", "levels": ["co_so"]},
]
SEPARATE = {"tinh", "huyen", "co_so"}
DUE = date(2016, 8, 31)
AS_OF = utc(2016, 10, 1)


@dataclass
class Node:
    code: str
    level: str
    own: int  # people belonging to this unit and to no unit under it
    reports: bool
    children: list[Node] = field(default_factory=list)


def _people(node: Node) -> set[str]:
    """The people a unit's members on record count: its own and those of the units under it
    that do not report separately."""
    out = {f"{node.code}#{i}" for i in range(node.own)}
    for child in node.children:
        if child.level not in SEPARATE:
            out |= _people(child)
    return out


@st.composite
def trees(draw: st.DrawFn) -> Node:
    counter = itertools.count()

    def grow(level_rank: int, depth: int) -> Node:
        level = LEVELS[level_rank]
        node = Node(
            code=f"U{next(counter)}",
            level=level,
            own=draw(st.integers(0, 6)),
            reports=draw(st.booleans()) or draw(st.booleans()),
        )
        if depth < 4:
            for _ in range(draw(st.integers(0, 3 if depth < 2 else 2))):
                # A child is at any lower level (a cell may sit under a district, a grassroots
                # unit straight under the province); cells may hold cells.
                low = min(level_rank + 1, len(LEVELS) - 1)
                child_rank = draw(st.integers(low, len(LEVELS) - 1))
                if level == "chi_bo":
                    child_rank = len(LEVELS) - 1
                node.children.append(grow(child_rank, depth + 1))
        return node

    return grow(0, 0)


def _walk(node: Node) -> list[Node]:
    return [node, *(n for c in node.children for n in _walk(c))]


def _counted(root: Node, pool: set[str]) -> list[Node]:
    """The units a pool counts: reported, at a pooled level, and whose members are not already
    part of an ancestor the pool counts (the units between them do not report separately)."""
    out: list[Node] = []

    def visit(node: Node, covered: bool) -> None:
        counted = node.level in pool and not (covered and node.level not in SEPARATE)
        if counted and node.reports:
            out.append(node)
        for child in node.children:
            # A child's people are in this node's record when the child does not report
            # separately; they stay covered down the chain of units that do not either.
            if child.level in SEPARATE:
                visit(child, False)
            else:
                visit(child, covered or node.level in pool)

    visit(root, False)
    return out


async def _figures(root: Node, tmp: Path) -> object:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'overlap.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    db = Database(engine)
    try:
        async with db.write() as session:
            b = Builder(session)
            await b.levels()

            async def add(node: Node, parent: str | None) -> None:
                members = len(_people(node))
                await b.unit(node.code, node.level, parent, members=members)
                for child in node.children:
                    await add(child, node.code)

            await add(root, None)
            cid = await b.campaign()
            await session.execute(
                update(Campaign)
                .where(Campaign.id == cid)  # type: ignore[arg-type]
                .values(definition={"campaign": {"reporting_groups": GROUPS}})
            )
            await b.deliverable(cid, "hoi_nghi", dict.fromkeys(LEVELS, DUE))
            for node in _walk(root):
                if node.reports:
                    members = len(_people(node))
                    await b.report(
                        cid,
                        "hoi_nghi",
                        node.code,
                        utc(2016, 8, 1),
                        members=members,
                        attended=members,
                    )
        async with db.read() as session:
            return await compute_figures(session=session, campaign_id=cid, as_of=AS_OF)
    finally:
        await db.dispose()


POOLS = [set(c) for r in range(1, 5) for c in itertools.combinations(LEVELS, r)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root=trees())
def test_every_pooled_denominator_counts_distinct_members(root: Node) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(_figures(root, Path(tmp)))
    for pool in POOLS:
        group = figures.group(tuple(code for code in LEVELS if code in pool))  # type: ignore[attr-defined]
        counted = _counted(root, pool)
        people = set().union(*(_people(n) for n in counted)) if counted else set()
        assert group.members == len(people), (pool, group.members, len(people))
        # Nobody counted twice: the counted units' people never overlap.
        assert sum(len(_people(n)) for n in counted) == len(people)
        # When everyone reports, the pool covers every person of every unit at its levels.
        if all(n.reports for n in _walk(root)):
            everyone = set().union(*(_people(n) for n in _walk(root) if n.level in pool))
            assert group.members == len(everyone)
    # The declared groups are the default pooled figures.
    assert [g.label_vi for g in figures.combined] == ["cấp tỉnh và cấp huyện", "cấp cơ sở"]  # type: ignore[attr-defined]
