"""The web console's province dashboard for a 5,000-unit province, against the raw figure query.

    python -m bench.web_dashboard [--units 5000] [--postgres URL] [--no-sqlite] [--write-docs]

Per engine: bench.figures.build makes the tree (one province of ~5,000 units at the default
size), the built-in campaign, ~90% of reports and 2,000 supervisors; a province admin gets a
session. Then, in the same run, the median of `ROUNDS` timings of:

- floor: `storage.figures.compute_figures` for the province (root_path), one read transaction:
  the figure query every dashboard needs at least once;
- `GET /` (the admin's dashboard: the area's figures and the row of each unit at the top of
  their scope, one `compute_figures_many` statement) and `GET /unit/<province>`
  (the same plus the province's children, its breadcrumb and its own reports), through the
  whole Starlette application in process (httpx ASGI transport): server time, rendering
  included, no network.

Then every page an admin opens (GET), as the whole tree's admin: its weight before images (the
HTML and the style sheets and scripts it links) and the median of `PAGE_ROUNDS` timings.

The targets: each page under 300 ms of server time, and its ratio to the floor (pages cost a
small constant number of figure queries, never one per unit); page weight under 200 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bench.figures_world import NOW, build
from bench.scratch import replace_section, scratch_schema
from bot.web.app import build_app
from bot.web.auth import COOKIE
from bot.web.uploads import KINDS
from storage.db import Database, create_engine
from storage.figures import compute_figures
from storage.models import ROLE_ADMIN, Person, Role, Unit
from storage.settings import load_settings
from storage.web_auth import start_session

ROUNDS = 15
PAGE_ROUNDS = 3
TARGET_MS = 300.0
MAX_KB = 200
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


async def _timed(call: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = await call()
    return (time.perf_counter() - t0) * 1000, value


async def _admin(session: AsyncSession, name: str, unit_id: int | None) -> str:
    """A signed-in admin of `unit_id`'s subtree (None: the whole tree); their session token."""
    admin = Person(full_name=name, created_at=datetime(2016, 5, 1, tzinfo=UTC))
    session.add(admin)
    await session.flush()
    assert admin.id is not None
    session.add(Role(person_id=admin.id, kind=ROLE_ADMIN, unit_id=unit_id, created_at=NOW))
    return await start_session(session=session, person_id=admin.id, now=NOW, via="link")


async def measure(db: Database, info: dict[str, Any]) -> dict[str, Any]:
    async with db.write() as session:
        province = (
            await session.execute(select(Unit).where(Unit.path == info["province_path"]))
        ).scalar_one()
        assert province.id is not None
        token = await _admin(session, "Quản trị tỉnh", province.id)
        national = await _admin(session, "Quản trị trung ương", None)
    settings = load_settings(web_url="https://bench.invalid")
    app = build_app(db, settings, clock=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    result: dict[str, Any] = {"province_units": info["province_units"]}
    async with httpx.AsyncClient(
        transport=transport, base_url="https://bench.invalid", cookies={COOKIE: token}
    ) as client:

        async def floor() -> Any:
            async with db.read() as session:
                return await compute_figures(
                    session=session,
                    campaign_id=info["campaign_id"],
                    as_of=NOW,
                    root_path=info["province_path"],
                )

        pages = {"home": "/", "unit": f"/unit/{province.id}"}
        samples: dict[str, list[float]] = {"floor": [], **{name: [] for name in pages}}
        sizes: dict[str, int] = {}
        for _ in range(2):  # warm-up: caches, templates, statement compilation
            await floor()
            for url in pages.values():
                assert (await client.get(url)).status_code == 200
        for _ in range(ROUNDS):
            ms, _ = await _timed(floor)
            samples["floor"].append(ms)
            for name, url in pages.items():
                ms, response = await _timed(lambda url=url: client.get(url))
                assert response.status_code == 200, response.text[:300]
                samples[name].append(ms)
                sizes[name] = len(response.content)
    # Every page, as the whole tree's admin (every desk page, the longest lists).
    async with httpx.AsyncClient(
        transport=transport, base_url="https://bench.invalid", cookies={COOKIE: national}
    ) as client:
        result["weights"] = await page_weights(client, await _other_pages(db, info, province))
    for name, values in samples.items():
        result[f"{name}_ms"] = statistics.median(values)
    for name in pages:
        result[f"{name}_ratio"] = result[f"{name}_ms"] / result["floor_ms"]
        result[f"{name}_bytes"] = sizes[name]
    return result


async def _other_pages(db: Database, info: dict[str, Any], province: Unit) -> list[str]:
    """Every page an admin can open (GET): the dashboard, the province and one district,
    grassroots unit and cell (the deepest unit) with its reports, the desk's pages."""
    async with db.read() as session:
        units = {
            depth: (
                await session.execute(
                    select(col(Unit.id))
                    .where(col(Unit.depth) == depth)
                    .order_by(col(Unit.id))
                    .limit(1)
                )
            ).scalar_one_or_none()
            for depth in range(1, 4)
        }
    cid = info["campaign_id"]
    return [
        "/",
        f"/unit/{province.id}",
        *(f"/unit/{unit_id}" for unit_id in units.values() if unit_id is not None),
        "/late",
        "/review",
        "/desk",
        *(f"/desk/upload/{kind}" for kind in KINDS),
        "/desk/campaigns",
        "/desk/campaigns/new",
        f"/desk/campaigns/{cid}",
        f"/desk/campaigns/{cid}/status?to=closed",
        "/desk/joined",
        "/desk/assign",
        "/desk/report",
        "/desk/invites",
    ]


async def page_weights(client: httpx.AsyncClient, urls: list[str]) -> list[dict[str, Any]]:
    """Each page's weight before images: its HTML plus the style sheets and scripts it links
    (once each), and the median time of `PAGE_ROUNDS` requests after a warm-up one."""
    assets: dict[str, int] = {}
    weights = []
    for url in urls:
        await client.get(url)
        times = []
        for _ in range(PAGE_ROUNDS):
            ms, response = await _timed(lambda url=url: client.get(url))
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
            times.append(ms)
        ms = statistics.median(times)
        linked = set(re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', response.text))
        for asset in linked - set(assets):
            assets[asset] = len((await client.get(asset)).content)
        html = len(response.content)
        weights.append(
            {"url": url, "ms": ms, "html": html, "total": html + sum(assets[a] for a in linked)}
        )
    return weights


async def run_engine(label: str, url: str, search_path: str | None, units: int) -> dict[str, Any]:
    db = Database(create_engine(url, search_path=search_path))
    try:
        info = await build(db, units)
        result = await measure(db, info)
    finally:
        await db.dispose()
    result["label"] = label
    print(
        f"[{label}] province of {result['province_units']:,} units: floor (compute_figures) "
        f"{result['floor_ms']:.1f} ms; GET / {result['home_ms']:.1f} ms "
        f"(x{result['home_ratio']:.2f}, {result['home_bytes'] / 1000:.1f} KB); "
        f"GET /unit/<province> {result['unit_ms']:.1f} ms (x{result['unit_ratio']:.2f}, "
        f"{result['unit_bytes'] / 1000:.1f} KB)",
        flush=True,
    )
    heaviest = max(result["weights"], key=lambda w: w["total"])
    print(
        f"[{label}] {len(result['weights'])} pages; heaviest {heaviest['url']} "
        f"{heaviest['total'] / 1000:.1f} KB before images (target {MAX_KB} KB); "
        + "; ".join(
            f"{w['url']} {w['total'] / 1000:.1f} KB {w['ms']:.0f} ms" for w in result["weights"]
        ),
        flush=True,
    )
    return result


def docs_section(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        "## Web console",
        "",
        f"`{command}`",
        "",
        f"Medians of {ROUNDS} rounds after a warm-up; server time in process through the whole",
        "Starlette application, rendering included, no network. Floor: the",
        "raw figure query for the same province (`compute_figures(root_path=...)`), measured in",
        f"the same run. Target: each page under {TARGET_MS:.0f} ms and under 200 KB.",
        f"Machine load (1-minute load average, 2 cores) when measured: {os.getloadavg()[0]:.1f};",
        "absolute times grow with it, the ratios much less.",
        "",
        "| engine | province units | floor | `GET /` | ratio | size | `GET /unit/<province>` "
        "| ratio | size |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} | {r['province_units']:,} | {r['floor_ms']:.1f} ms "
            f"| {r['home_ms']:.1f} ms | x{r['home_ratio']:.2f} | {r['home_bytes'] / 1000:.1f} KB "
            f"| {r['unit_ms']:.1f} ms | x{r['unit_ratio']:.2f} | {r['unit_bytes'] / 1000:.1f} KB |"
        )
    lines += [
        "",
        "A page costs a fixed number of set-based statements whatever the province's size",
        "(`bot.web.figures_view.area_and_rows`): the area's figures from `compute_figures` (the",
        "floor itself), every unit row shown from one `compute_figures_many` statement (none when",
        "the one row is the whole area, as on a province admin's dashboard), and on the unit page",
        "the unit's own report versions. Never one query per unit. The figures a week earlier",
        "cost one more statement, so they are shown on request (`?week=1`).",
        "",
        "Every page, opened by the whole tree's admin, its weight before images (the HTML and",
        f"the style sheets and scripts it links; target under {MAX_KB} KB) and its server time",
        f"(median of {PAGE_ROUNDS} requests):",
        "",
        "| page | " + " | ".join(f"{r['label']} weight | time" for r in results) + " |",
        "|---|" + "---:|---:|" * len(results),
    ]
    for index, first in enumerate(results[0]["weights"] if results else []):
        cells = [
            f"{w['total'] / 1000:.1f} KB | {w['ms']:.0f} ms"
            for w in (r["weights"][index] for r in results)
        ]
        lines.append(f"| `{first['url']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    # Up to the next section or the first dated subsection: the runs recorded under it stay.
    replace_section("Web console", section, keep_dated=True)


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
            "python -m bench.web_dashboard"
            + (f" --units {args.units}" if args.units != 5_000 else "")
            + (" --postgres $CADREBOT_TEST_POSTGRES_URL" if args.postgres else "")
            + " --write-docs"
        )
        write_docs(docs_section(results, command))


def main() -> None:
    parser = argparse.ArgumentParser(description="Web console dashboard benchmark")
    parser.add_argument("--units", type=int, default=5_000)
    parser.add_argument("--postgres", default=os.environ.get("CADREBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
