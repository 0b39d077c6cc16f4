"""The on-demand digest in a tree of realistic size: each supervisor asking once, then again.

    python -m bench.digest_scale [--units 20000] [--people 30] [--postgres URL]

bench/digest_render.py times one supervisor's digest over and over in a world of 200 units: its
statements are kept and compiled after the first ask, and the tables hold only that scope. Here
the tree is bench/figures_world.py's (at 20,000 units: 5 provinces, ~50 districts, grassroots
units and cells, the built-in campaign, ~90% reported, 2,000 supervisors following one subtree or
1-20 scattered units), and `--people` supervisors each compose their digest
(`scheduler.digest.compose_digest`: data, text, chart) for the first time in the process, then
once more: the first ask pays for building and compiling any statement whose shape no one asked
before, and the statements' cost follows the size of the tables, not only of the scope. Medians,
wall and CPU time of this process (on PostgreSQL the server's time is in the wall clock only),
with the floor measured in the same run: the bare chart (an empty figure encoded the same way).
Target: under 40 ms a digest.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from sqlalchemy import select, text
from sqlmodel import col

from bench.digest_render import bare_chart
from bench.figures_world import NOW, build
from bench.scratch import on_engines
from scheduler.digest import compose_digest
from scheduler.digest_chart import _drawn
from storage.db import Database
from storage.models import ROLE_SUPERVISOR, Person, Role


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
    )


async def _timed(step: Any) -> tuple[float, float]:
    _drawn.cache_clear()  # each digest draws its chart
    start, start_cpu = time.perf_counter(), time.process_time()
    message = await step()
    assert message is not None and message.photo is not None
    return (time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000


async def measure(label: str, db: Database, units: int, people: int) -> dict[str, float]:
    info = await build(db, units)
    if db.is_sqlite:
        # figures_world analyses every table; a deployed SQLite file never is (only PostgreSQL
        # imports refresh statistics, storage.planner_stats): plan as it would.
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
            await conn.execute(text("DROP TABLE IF EXISTS sqlite_stat4"))
        await db.engine.dispose()  # no pooled connection keeps the statistics it loaded
    async with db.read() as session:
        ids = list(
            (
                await session.execute(
                    select(col(Role.person_id))
                    .where(col(Role.kind) == ROLE_SUPERVISOR)
                    .distinct()
                    .order_by(col(Role.person_id))
                    .limit(people + 1)
                )
            ).scalars()
        )
        persons = {p.id: p for p in (await session.execute(select(Person))).scalars()}
        # One supervisor first: the process's own warm-up (imports, fonts, the chart frame).
        await compose_digest(session, persons[ids[0]], NOW)
        first, again = [], []
        for pid in ids[1:]:
            person = persons[pid]
            first.append(await _timed(lambda p=person: compose_digest(session, p, NOW)))
            again.append(await _timed(lambda p=person: compose_digest(session, p, NOW)))
    floor = []
    for _ in range(max(5, people // 3)):
        start, start_cpu = time.perf_counter(), time.process_time()
        bare_chart()
        floor.append(
            ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000)
        )
    found: dict[str, float] = {"units": info["units"], "people": len(first)}
    for name, samples in (("first", first), ("again", again), ("floor", floor)):
        found[name], found[f"{name}_cpu"] = _median(samples)
    found["first_max"] = max(s[0] for s in first)
    print(
        f"[{label}] {info['units']:,} units, {len(first)} supervisors, medians: first ask "
        f"{found['first']:.1f} ms (CPU {found['first_cpu']:.1f}, slowest {found['first_max']:.1f}),"
        f" asked again {found['again']:.1f} ms (CPU {found['again_cpu']:.1f}); floor (bare chart) "
        f"{found['floor']:.1f} ms (CPU {found['floor_cpu']:.1f})"
    )
    return found


async def main(units: int, people: int, postgres: str | None) -> dict[str, dict[str, float]]:
    return await on_engines(lambda label, db: measure(label, db, units, people), postgres)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.units, args.people, args.postgres))
