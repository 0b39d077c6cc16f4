"""Figures at national scale: province and country figures, 2,000 supervisors' digest figures
against a hand-written set-based floor, one province's XLSX export, peak memory.

    python -m bench.figures [--units 300000] [--postgres URL] [--no-sqlite] [--write-docs]

Per engine (a fresh SQLite file; a fresh PostgreSQL schema from --postgres, default
$CADREBOT_TEST_POSTGRES_URL):

1. build (not timed as a target): the tree from bench/gen_units.py (63 tinh, ~700 huyen, 10,000
   co_so, the rest chi_bo), Core bulk insert with computed paths; the built-in campaign template
   (storage.campaigns); reports for ~90% of (unit, deliverable) pairs with realistic measures
   (5% of study-session reports corrected once: version 2); 2,000 supervisors (half follow one
   subtree, a district or a grassroots committee; half follow 1-20 random units), as roles.
2. measure, in a child process (so its peak RSS is the measurement's alone):
   (a) compute_figures for one province (root_path) and for the whole country;
   (b) storage.figures.figures_for_people for the 2,000 supervisors (what the digest pass
       calls: one role query, then compute_figures_many: one grouped statement per 500 scopes);
       secondary line: the old per-call loop (compute_figures with the digest's unit filter,
       storage.access.visible_units_condition, campaign context reused), checked equal to (b);
   (b floor) the same per-supervisor numbers (per deliverable and level: expected, reported, on
       time, with a program, sums of every summed measure; versions as of the same moment) from
       ONE hand-written GROUP BY over a bench-only table mapping each supervisor to every unit
       they see (built beforehand, not timed), checked cell by cell against (b); and, second
       floor, from 2,000 executions of that query restricted to one supervisor;
   (c) the XLSX export (bot.export.write_xlsx) of the province closest to 5,000 units;
   (d) peak memory: VmHWM of the measuring process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    bindparam,
    select,
    text,
)

from bench.figures_world import FOLLOW, NOW, build
from bench.scratch import replace_section, scratch_schema
from storage.access import Scope, visible_units_condition
from storage.db import Database, create_engine

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

# Measure (child process)


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: VmHWM, which starts afresh at exec; not
    ru_maxrss, which a child inherits from its parent (here the 1 GB build) across fork+exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_sql(campaign_id: int, deadline_ends: dict[int, datetime], one: bool) -> Any:
    """The hand-written floor: per supervisor, deliverable and level, the same counts and sums
    compute_figures makes, versions as of :as_of (the latest created by then)."""
    on_time = " ".join(f"WHEN {dl_id} THEN :end_{dl_id}" for dl_id in deadline_ends)
    where_one = "AND s.person_id = :person" if one else ""
    sql = f"""
        SELECT s.person_id, dd.deliverable_id, u.level_code,
               count(*) AS expected, count(r.id) AS reported,
               sum(CASE WHEN r.first_confirmed_at < (CASE dd.id {on_time} END)
                        THEN 1 ELSE 0 END) AS on_time,
               sum(CASE WHEN v.action_program THEN 1 ELSE 0 END) AS programs,
               sum(v.members), sum(v.attended), sum(v.nonmembers_attended), sum(v.essays),
               sum(v.heads_with_plan), sum(v.heads)
        FROM bench_sees s
        JOIN unit u ON u.id = s.unit_id
        JOIN deliverable_deadline dd ON dd.level_code = u.level_code
        JOIN deliverable d ON d.id = dd.deliverable_id AND d.campaign_id = :campaign
        LEFT JOIN report r ON r.deliverable_id = dd.deliverable_id AND r.unit_id = u.id
                          AND r.first_confirmed_at <= :as_of
        LEFT JOIN report_version v ON v.report_id = r.id AND v.version = (
              SELECT max(v2.version) FROM report_version v2
              WHERE v2.report_id = r.id AND v2.created_at <= :as_of)
        WHERE (u.active OR u.deactivated_at > :as_of) {where_one}
        GROUP BY s.person_id, dd.deliverable_id, u.level_code
    """
    from storage.types import UTCDateTime

    stmt = text(sql).bindparams(
        bindparam("as_of", type_=UTCDateTime()),
        *(bindparam(f"end_{dl_id}", type_=UTCDateTime()) for dl_id in deadline_ends),
    )
    return stmt


async def measure(url: str, search_path: str | None, info: dict[str, Any]) -> dict[str, Any]:
    from bot.export import write_xlsx
    from storage.figures import compute_figures, figures_for_people
    from storage.figures import load_campaign as load_ctx

    db = Database(create_engine(url, search_path=search_path))
    campaign_id = info["campaign_id"]
    result: dict[str, Any] = {}
    peaks: dict[str, float] = {}

    def peak(phase: str) -> None:
        peaks[phase] = peak_rss_mb()

    peak("start")
    try:
        async with db.read() as session:
            t0 = time.perf_counter()
            province = await compute_figures(
                session=session,
                campaign_id=campaign_id,
                as_of=NOW,
                root_path=info["province_path"],
            )
            result["a_province"] = time.perf_counter() - t0
            peak("a_province")
            t0 = time.perf_counter()
            country = await compute_figures(session=session, campaign_id=campaign_id, as_of=NOW)
            result["a_country"] = time.perf_counter() - t0
            peak("a_country")
            result["country_expected"] = country.total.unit_session.expected
            result["province_expected"] = province.total.unit_session.expected

            follows: dict[int, list[str]] = {}
            for person_id, lo in (
                await session.execute(select(FOLLOW.c.person_id, FOLLOW.c.lo))
            ).all():
                follows.setdefault(person_id, []).append(lo)
            # (b): what the digest pass calls, scopes read from the roles included.
            t0 = time.perf_counter()
            per_supervisor = await figures_for_people(
                session=session, campaign_id=campaign_id, as_of=NOW, person_ids=sorted(follows)
            )
            result["b_figures"] = time.perf_counter() - t0
            peak("b_figures")
            # What the digest asks for: the same with the figures one week earlier.
            t0 = time.perf_counter()
            weekly = await figures_for_people(
                session=session,
                campaign_id=campaign_id,
                as_of=NOW,
                person_ids=sorted(follows),
                with_previous=True,
            )
            result["b_weekly"] = time.perf_counter() - t0
            peak("b_weekly")
            result["weekly_mismatches"] = sum(
                f.previous is None or replace(f, previous=None) != per_supervisor[pid]
                for pid, f in weekly.items()
            )
            del weekly
            # (b) secondary: the per-call loop (compute_figures, campaign context reused).
            ctx = await load_ctx(session=session, campaign_id=campaign_id)
            t0 = time.perf_counter()
            loop: dict[int, Any] = {}
            for person_id, followed in sorted(follows.items()):
                condition = visible_units_condition(
                    Scope(person_id=person_id, supervised_paths=tuple(followed))
                )
                loop[person_id] = await compute_figures(
                    session=session,
                    campaign_id=campaign_id,
                    as_of=NOW,
                    unit_filter=condition,
                    context=ctx,
                )
            result["b_loop"] = time.perf_counter() - t0
            peak("b_loop")
            result["loop_mismatches"] = sum(
                per_supervisor.get(pid) != figures for pid, figures in loop.items()
            )
            del loop

            params = {"campaign": campaign_id, "as_of": NOW}
            params.update({f"end_{k}": v for k, v in ctx.deadline_ends.items()})
            t0 = time.perf_counter()
            rows = (
                await session.execute(
                    floor_sql(campaign_id, dict(ctx.deadline_ends), False), params
                )
            ).all()
            result["b_floor_set"] = time.perf_counter() - t0
            peak("b_floor_set")
            one = floor_sql(campaign_id, dict(ctx.deadline_ends), True)
            t0 = time.perf_counter()
            for person_id in sorted(follows):
                (await session.execute(one, {**params, "person": person_id})).all()
            result["b_floor_each"] = time.perf_counter() - t0

            # The floor computes the same numbers: check every supervisor, every cell.
            keys = {d.id: d.key for d in ctx.deliverables}
            mismatches = 0
            for row in rows:
                cell = per_supervisor[row[0]].cells[(keys[row[1]], row[2])]
                mine = (
                    cell.status.expected,
                    cell.status.reported,
                    cell.status.on_time,
                    cell.programs,
                )
                floor = (int(row[3]), int(row[4]), int(row[5] or 0), int(row[6] or 0))
                sums = [int(x or 0) for x in row[7:]]
                mine_sums = [
                    cell.sums.get(m, 0)
                    for m in (
                        "members",
                        "attended",
                        "nonmembers_attended",
                        "essays",
                        "heads_with_plan",
                        "heads",
                    )
                ]
                if mine != floor or mine_sums != sums:
                    mismatches += 1
            # ... and no cell the floor lacks (every expected unit is in some floor row).
            floor_cells = len(rows)
            mine_cells = sum(
                1 for f in per_supervisor.values() for c in f.cells.values() if c.status.expected
            )
            result["floor_rows"] = floor_cells
            result["floor_mismatches"] = mismatches + abs(mine_cells - floor_cells)

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "province.xlsx"
            async with db.read() as session:
                t0 = time.perf_counter()
                count = await write_xlsx(
                    session=session,
                    campaign_id=campaign_id,
                    as_of=NOW,
                    output=out,
                    root_path=info["province_path"],
                )
                result["c_xlsx"] = time.perf_counter() - t0
                peak("c_xlsx")
                result["c_units"] = count
                result["c_bytes"] = out.stat().st_size
    finally:
        await db.dispose()
    result["d_peak_mb"] = peak_rss_mb()
    result["d_peak_after"] = peaks
    return result


# ---------------------------------------------------------------------------------------------
# Driver


def _child(url: str, search_path: str | None, info: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps({"url": url, "search_path": search_path, "info": info})
    done = subprocess.run(
        [sys.executable, "-m", "bench.figures", "--measure", payload],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def run_engine(label: str, url: str, search_path: str | None, units: int) -> dict[str, Any]:
    db = Database(create_engine(url, search_path=search_path))
    t0 = time.perf_counter()
    try:
        info = await build(db, units)
    finally:
        await db.dispose()
    built = time.perf_counter() - t0
    print(
        f"[{label}] built in {built:.0f} s: {info['units']:,} units, {info['reports']:,} reports, "
        f"{info['versions']:,} versions, {info['roles']:,} supervisor roles "
        f"({info['sees']:,} supervisor-unit pairs); province {info['province_units']:,} units",
        flush=True,
    )
    result = _child(url, search_path, info)
    result.update(label=label, build_s=built, **info)
    floor = result["b_floor_set"]
    print(
        f"[{label}] (a) province {result['a_province']:.2f} s, "
        f"country {result['a_country']:.2f} s\n"
        f"[{label}] (b) 2,000 supervisors: figures_for_people {result['b_figures']:.1f} s; "
        f"floor one GROUP BY {floor:.1f} s (x{result['b_figures'] / floor:.2f}); "
        f"{result['floor_mismatches']} mismatching cells of {result['floor_rows']:,}\n"
        f"[{label}]     with the week-earlier figures (digest) {result['b_weekly']:.1f} s "
        f"({result['weekly_mismatches']} differing)\n"
        f"[{label}]     per-call loop (compute_figures, context reused) {result['b_loop']:.1f} s "
        f"(x{result['b_loop'] / floor:.2f}; {result['loop_mismatches']} supervisors differing); "
        f"floor 2,000 queries {result['b_floor_each']:.1f} s\n"
        f"[{label}] (c) XLSX of {result['c_units']:,} units: {result['c_xlsx']:.2f} s "
        f"({result['c_bytes'] / 1e6:.1f} MB)\n"
        f"[{label}] (d) peak RSS of the measuring process: {result['d_peak_mb']:.0f} MB "
        f"(peak after each phase: {result['d_peak_after']})",
        flush=True,
    )
    return result


def docs_section(results: list[dict[str, Any]], units: int, command: str) -> str:
    def row(title: str, fn: Any) -> str:
        return f"| {title} | " + " | ".join(fn(r) for r in results) + " |"

    head = "| step | " + " | ".join(r["label"] for r in results) + " |"
    sep = "|---|" + "---:|" * len(results)
    lines = [
        "## Figures",
        "",
        f"`{command}` (quick run: `--units 20000`) builds a {units:,}-unit national tree "
        "(bench/gen_units.py: 63 `tinh`, ~700 `huyen`, 10,000 `co_so`, the rest `chi_bo`), the "
        "built-in campaign (3 deliverables), reports for ~90% of (unit, deliverable) pairs (5% of "
        "session reports corrected once) and 2,000 supervisors (half follow one district or "
        "grassroots subtree, half 1–20 random units), then measures in a separate process (its "
        "peak RSS, VmHWM, is (d)): (a) `compute_figures` for the province closest to 5,000 units "
        "and for the whole country; (b) `storage.figures.figures_for_people` for the 2,000 "
        "supervisors — what the digest pass calls: one role query, then `compute_figures_many` "
        "(one grouped statement per 5,000 scopes or 25,000 ranges) — and, as the old way, "
        "`compute_figures` once per supervisor with the digest's filter "
        "(`storage.access.visible_units_condition`); (c) `bot.export.write_xlsx` of that "
        "province. Numbers as of 15/10/2016.",
        "",
        "Floors for (b), both hand-written SQL over a bench-only table `bench_sees(person_id, "
        "unit_id)` that lists every unit each supervisor sees (built beforehand, not timed), "
        "computing the same numbers per supervisor, deliverable and level (expected, reported, "
        "on time, programs, six sums; versions as of the same moment): **set floor** = one "
        "GROUP BY for all 2,000 supervisors, checked cell by cell against (b); "
        "**per-supervisor floor** = the same query restricted to one supervisor, run 2,000 times. "
        "The old per-call loop and the week-earlier variant are checked equal to (b).",
        "",
        head,
        sep,
        row("data", lambda r: f"{r['units']:,} units, {r['reports']:,} reports"),
        row("(a) compute_figures, one province", lambda r: f"{r['a_province']:.2f} s"),
        row("(a) compute_figures, whole country", lambda r: f"{r['a_country']:.2f} s"),
        row(
            "(b) figures_for_people, 2,000 supervisors",
            lambda r: f"{r['b_figures']:.1f} s",
        ),
        row("(b) set floor: one GROUP BY", lambda r: f"{r['b_floor_set']:.1f} s"),
        row(
            "(b) **ratio to the set floor (target ≤ 1.5×)**",
            lambda r: f"**{r['b_figures'] / r['b_floor_set']:.2f}×**",
        ),
        row(
            "(b) floor cells checked / mismatching",
            lambda r: f"{r['floor_rows']:,} / {r['floor_mismatches']}",
        ),
        row(
            "(b) the same with the week-earlier figures (what the digest asks for)",
            lambda r: f"{r['b_weekly']:.1f} s",
        ),
        row(
            "(b, old) compute_figures × 2,000 calls, context reused",
            lambda r: f"{r['b_loop']:.1f} s ({r['b_loop'] / r['b_floor_set']:.2f}×)",
        ),
        row(
            "(b, old) supervisors whose figures differ from (b)",
            lambda r: f"{r['loop_mismatches']}",
        ),
        row("(b) per-supervisor floor: 2,000 queries", lambda r: f"{r['b_floor_each']:.1f} s"),
        row(
            "(c) XLSX export of one province (target < 10 s)",
            lambda r: f"{r['c_xlsx']:.2f} s ({r['c_units']:,} units)",
        ),
        row(
            "(d) peak RSS, measuring process (target < 300 MB)",
            lambda r: f"{r['d_peak_mb']:.0f} MB",
        ),
        "",
    ]
    return "\n".join(lines)


def write_docs(section: str, extra: str = "") -> None:
    """Replace (or append) the "## Figures" section, leaving the other sections alone."""
    replace_section("Figures", section + (("\n" + extra.strip() + "\n") if extra.strip() else ""))


async def main_async(args: argparse.Namespace) -> None:
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            results.append(await run_engine("SQLite", url, None, args.units))
    if args.postgres:
        async with scratch_schema(args.postgres) as schema:
            results.append(await run_engine("PostgreSQL", args.postgres, schema, args.units))
    if args.write_docs and results:
        command = (
            "python -m bench.figures"
            + (f" --units {args.units}" if args.units != 300_000 else "")
            + (" --postgres $CADREBOT_TEST_POSTGRES_URL" if args.postgres else "")
            + " --write-docs"
        )
        write_docs(docs_section(results, args.units, command))


def main() -> None:
    parser = argparse.ArgumentParser(description="Figures benchmark at national scale")
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CADREBOT_TEST_POSTGRES_URL"),
        help="server URL (a scratch schema is made); default $CADREBOT_TEST_POSTGRES_URL",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        payload = json.loads(args.measure)
        result = asyncio.run(measure(payload["url"], payload["search_path"], payload["info"]))
        print(json.dumps(result))
        return
    if args.no_postgres:
        args.postgres = None
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
