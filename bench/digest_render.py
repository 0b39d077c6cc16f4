"""Time one weekly digest (data + text + chart) for a supervisor following ~200 units.

    python -m bench.digest_render [--units 200] [--runs 30] [--postgres URL] [--write-doc]

Builds a fresh SQLite file (and a PostgreSQL schema with --postgres): a province, 4 districts
and grassroots units under them, the article's three deliverables, ~75% reported (some late,
some with shortcomings), a supervisor following the 4 districts. Then, `runs` times each: the
digest data (`digest_data`), the text (`render_digest`), the chart (`render_chart`) and the
whole `compose_digest`; medians are printed with the floor measured in the same run: a bare
800×450 matplotlib figure encoded to PNG the same way (what any chart costs at minimum).
Target: under 40 ms per digest.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import tempfile
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bot.chart import render_chart
from bot.digest_text import render_digest
from scheduler.digest import compose_digest, digest_data
from storage.db import Database, create_engine, normalise_url
from storage.models import (
    ROLE_SUPERVISOR,
    Campaign,
    Deliverable,
    DeliverableDeadline,
    Level,
    Person,
    Report,
    ReportVersion,
    Role,
    Unit,
    metadata,
)
from storage.tree import child_path

CREATED = datetime(2016, 5, 1, tzinfo=UTC)
NOW = datetime(2016, 10, 3, 1, 0, tzinfo=UTC)  # Monday 08:00 in Hanoi
LEVELS = (
    ("tinh", "Cấp tỉnh", "Province level", 1),
    ("huyen", "Cấp huyện", "District level", 2),
    ("co_so", "Cấp cơ sở", "Grassroots level", 3),
)
DUE = {
    "hoi_nghi": {"tinh": date(2016, 6, 30), "huyen": date(2016, 7, 31), "co_so": date(2016, 8, 31)},
    "chuong_trinh": dict.fromkeys(("tinh", "huyen", "co_so"), date(2016, 9, 30)),
    "ke_hoach": dict.fromkeys(("tinh", "huyen", "co_so"), date(2016, 9, 30)),
}
NAMES = {
    "hoi_nghi": "Hội nghị học tập, quán triệt",
    "chuong_trinh": "Chương trình hành động",
    "ke_hoach": "Kế hoạch hành động của người đứng đầu",
}


async def build(db: Database, units: int) -> int:
    """The tree, campaign and reports; returns the supervisor's person id."""
    rng = random.Random(22)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with db.write() as session:
        await session.execute(
            insert(Level),
            [{"code": c, "label_vi": v, "label_en": e, "rank": r} for c, v, e, r in LEVELS],
        )
        rows: list[dict[str, Any]] = []

        def unit(uid: int, code: str, name: str, level: str, parent: dict[str, Any] | None) -> Any:
            path = child_path(parent["path"] if parent else None, uid)
            row = {
                "id": uid,
                "code": code,
                "name": name,
                "level_code": level,
                "parent_id": parent["id"] if parent else None,
                "path": path,
                "depth": len(path) // 8 - 1,
                "members": rng.randint(15, 60),
                "active": True,
                "created_at": CREATED,
                "updated_at": CREATED,
            }
            rows.append(row)
            return row

        province = unit(1, "TU", "Tỉnh ủy", "tinh", None)
        districts = [
            unit(2 + i, f"H{i + 1}", f"Huyện ủy số {i + 1}", "huyen", province) for i in range(4)
        ]
        for i in range(units - 4):
            unit(10 + i, f"X{i:04d}", f"Đảng bộ xã số {i + 1}", "co_so", districts[i % 4])
        await session.execute(insert(Unit), rows)
        result = await session.execute(
            insert(Campaign)
            .values(
                reference="13-KH/TU",
                name="Học tập, quán triệt Nghị quyết Đại hội XII của Đảng",
                resolution="Nghị quyết Đại hội XII",
                start_date=date(2016, 5, 15),
                min_session_halfdays=2,
                essay_rate_threshold=0.9,
                definition={},
                created_at=CREATED,
                updated_at=CREATED,
            )
            .returning(metadata.tables["campaign"].c.id)
        )
        campaign_id = int(result.scalar_one())
        deliverables: dict[str, int] = {}
        for position, key in enumerate(DUE):
            result = await session.execute(
                insert(Deliverable)
                .values(
                    campaign_id=campaign_id,
                    key=key,
                    name_vi=NAMES[key],
                    name_en=key,
                    position=position,
                    form={},
                )
                .returning(metadata.tables["deliverable"].c.id)
            )
            deliverables[key] = int(result.scalar_one())
            await session.execute(
                insert(DeliverableDeadline),
                [
                    {"deliverable_id": deliverables[key], "level_code": lv, "due_date": due}
                    for lv, due in DUE[key].items()
                ],
            )
        reports: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        report_id = 0
        for row in rows[1:]:  # the supervisor follows the districts, not the province
            for key, deliverable_id in deliverables.items():
                if rng.random() > 0.75:
                    continue
                due = DUE[key][row["level_code"]]
                at = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(
                    days=rng.randint(-20, 3)
                )
                report_id += 1
                reports.append(
                    {
                        "id": report_id,
                        "campaign_id": campaign_id,
                        "deliverable_id": deliverable_id,
                        "unit_id": row["id"],
                        "first_confirmed_at": at,
                        "current_version": 1,
                        "updated_at": at,
                    }
                )
                measures: dict[str, Any] = {}
                if key == "hoi_nghi":
                    attended = row["members"] - rng.randint(0, 3)
                    measures = {
                        "session_date": at.date(),
                        "duration_halfdays": rng.choice((1, 2, 2, 2)),
                        "members": row["members"],
                        "attended": attended,
                        "essays": attended - rng.randint(0, 4),
                    }
                elif key == "chuong_trinh":
                    measures = {"action_program": rng.random() < 0.95}
                else:
                    heads = rng.randint(2, 6)
                    measures = {"heads": heads, "heads_with_plan": heads - rng.randint(0, 1)}
                versions.append(
                    {
                        "report_id": report_id,
                        "version": 1,
                        "is_current": True,
                        "created_at": at,
                        "channel": "cli",
                        "answers": {},
                        **measures,
                    }
                )
        await session.execute(insert(Report), reports)
        for start in range(0, len(versions), 500):
            await session.execute(insert(ReportVersion), versions[start : start + 500])
        person = Person(full_name="Phạm Văn Giám", created_at=CREATED)
        session.add(person)
        await session.flush()
        assert person.id is not None
        await session.execute(
            insert(Role),
            [
                {
                    "person_id": person.id,
                    "kind": ROLE_SUPERVISOR,
                    "unit_id": d["id"],
                    "created_at": CREATED,
                }
                for d in districts
            ],
        )
        return person.id


def bare_chart() -> bytes:
    """The floor: an empty 800×450 figure encoded like the digest chart."""
    from bot.chart import _Canvas, encode_png

    return encode_png(_Canvas().rgba())


async def median_ms(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (all its threads, so aiosqlite's
    too), in ms. CPU time is the fairer figure on a machine shared with other work."""
    await fn()  # warm-up: caches, font loading
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        await fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


async def measure(label: str, db: Database, units: int, runs: int) -> dict[str, float]:
    person_id = await build(db, units)
    async with db.read() as session:
        person = await session.get(Person, person_id)
        assert person is not None
        data = await digest_data(session=session, person_id=person_id, now=NOW)
        assert data is not None
        expected = data.campaigns[0].expected

        async def data_step() -> Any:
            return await digest_data(session=session, person_id=person_id, now=NOW)

        async def text_step() -> Any:
            return render_digest(data)

        async def chart_step() -> Any:
            return render_chart(data)

        async def floor_step() -> Any:
            return bare_chart()

        async def whole() -> Any:
            return await compose_digest(session, person, NOW)

        result: dict[str, float] = {}
        steps = {
            "data": data_step,
            "text": text_step,
            "chart": chart_step,
            "floor": floor_step,
            "whole": whole,
        }
        for name, step in steps.items():
            result[name], result[f"{name}_cpu"] = await median_ms(step, runs)
        message = await compose_digest(session, person, NOW)
    assert message is not None and message.photo is not None
    result["chars"] = len(message.text)
    result["png_kb"] = len(message.photo) / 1024
    result["units"] = expected
    summary = ", ".join(
        f"{name} {result[name]:.1f} ms (CPU {result[name + '_cpu']:.1f})"
        for name in ("data", "text", "chart", "floor", "whole")
    )
    print(
        f"[{label}] {expected} units, {runs} runs, medians: {summary}; "
        f"text {len(message.text)} chars, PNG {result['png_kb']:.1f} KB"
    )
    return result


async def _pg_admin(url: str, sql: str) -> None:
    engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def main(units: int, runs: int, postgres: str | None) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            results["SQLite"] = await measure("SQLite", db, units, runs)
        finally:
            await db.dispose()
    if postgres:
        name = f"cadrebot_bench_{uuid.uuid4().hex[:10]}"
        await _pg_admin(postgres, f'CREATE DATABASE "{name}"')
        db = Database.from_url(str(normalise_url(postgres).set(database=name)))
        try:
            results["PostgreSQL"] = await measure("PostgreSQL", db, units, runs)
        finally:
            await db.dispose()
            await _pg_admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


FINDINGS = (
    "Rendering meets the target: text and chart together take about 20 ms of CPU, the chart "
    "about 4 times the bare-figure floor. How the chart got there, on this machine: drawn in two "
    "matplotlib Axes, 75-85 ms wall per chart (the tick machinery and some 30 text objects); "
    "bars drawn straight on the figure, about 40 ms of CPU; now the static frame (grid, percent "
    "labels, titles, level names, legend) is rendered once per language and set of levels, kept "
    "in a small cache and composited under the bars, so only about 10 short labels are laid out "
    "per digest. The whole digest does not meet 40 ms: the data takes 35-40 ms of CPU in some 30 "
    "queries (figures now and a week ago through storage.figures, the shortcomings, the overdue "
    "and late lists, the unreachable people), most of it SQLAlchemy and driver overhead per "
    "query rather than SQL execution. A weekly pass for 1,000 supervisors is about a minute of "
    "CPU."
)


def write_doc(results: dict[str, dict[str, float]], units: int, runs: int, command: str) -> None:
    """Replace (or append) the "Digest rendering" section of docs/benchmarks.md, re-reading the
    file first: other sections belong to other benchmarks."""
    path = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    engines = list(results)
    lines = [
        "## Digest rendering",
        "",
        f"`{command}` builds a supervisor's scope of {units} units (a province, 4 districts "
        "followed by the supervisor, grassroots units under them; the article's three "
        "deliverables, ~75% reported, some late, some shortcomings) and times, median of "
        f"{runs} runs after one warm-up: the digest data (`scheduler.digest.digest_data`: "
        "figures now and a week ago, overdue and late lists, shortcomings, unreachable people), "
        "the text (`bot.digest_text.render_digest`), the chart (`bot.chart.render_chart`) and the "
        "whole `compose_digest`. The floor, measured in the same run, is a bare 800×450 "
        "matplotlib figure encoded to PNG the same way.",
        "",
        f"Machine: {platform.machine()} VM, Python {platform.python_version()}, shared with other "
        "benchmarks while measured. Target: under 40 ms per digest.",
        "",
        "Times are medians: wall clock, and in brackets the CPU time of the process (all its "
        "threads), the fairer figure on a shared machine.",
        "",
        "| step | " + " | ".join(engines) + " |",
        "|---|" + "---:|" * len(engines),
    ]
    timed = (
        ("digest data (SQL)", "data"),
        ("text", "text"),
        ("chart", "chart"),
        ("floor: bare figure to PNG", "floor"),
        ("whole digest (data + text + chart)", "whole"),
    )
    for title, key in timed:
        cells = [
            f"{results[e][key]:.1f} ms (CPU {results[e][key + '_cpu']:.1f} ms)" for e in engines
        ]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append(
        "| text length / PNG size | "
        + " | ".join(
            f"{results[e]['chars']:.0f} chars / {results[e]['png_kb']:.1f} KB" for e in engines
        )
        + " |"
    )
    lines += ["", *textwrap.wrap(FINDINGS, 100)]
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(line, 100) if not line.startswith("|") and line else [line]
    section = "\n".join(wrapped) + "\n"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    marker = "## Digest rendering"
    if marker in current:
        before, _, rest = current.partition(marker)
        after = rest.split("\n## ", 1)
        tail = "\n## " + after[1] if len(after) > 1 else ""
        updated = before + section + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    path.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    found = asyncio.run(main(args.units, args.runs, args.postgres))
    if args.write_doc:
        command = "python -m bench.digest_render" + (" --postgres URL" if args.postgres else "")
        write_doc(found, args.units, args.runs, command)
