"""The national tree and campaign the figure benchmarks measure (bench/figures.py,
bench/web_dashboard.py): units from bench/gen_units.py, the built-in campaign, ~90% of reports
(5% corrected once) and 2,000 supervisors, with the bench-only tables of who follows and sees
what (the floors' input)."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bench.gen_units import generate
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.clock import end_of_day
from storage.db import Database
from storage.models import Person, Report, ReportVersion, Role, Unit, metadata
from storage.tree import child_path, path_upper_bound
from storage.units import ensure_default_levels

NOW = datetime(2016, 10, 15, 3, 0, tzinfo=UTC)
BUILT = datetime(2016, 5, 1, tzinfo=UTC)
SUPERVISORS = 2_000
BATCH = 5_000

bench_meta = MetaData()
FOLLOW = Table(
    "bench_follow",
    bench_meta,
    Column("person_id", Integer, nullable=False),
    Column("lo", String(200), nullable=False),
    Column("hi", String(200), nullable=False),
)
SEES = Table(
    "bench_sees",
    bench_meta,
    Column("person_id", Integer, nullable=False, index=True),
    Column("unit_id", Integer, nullable=False),
)


def _members(text_value: str) -> int:
    return int(re.sub(r"\D", "", text_value) or 0)


# ---------------------------------------------------------------------------------------------
# Build


async def _insert(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(table), rows[start : start + BATCH])


async def build(db: Database, units: int, seed: int = 16) -> dict[str, Any]:
    rng = random.Random(seed)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(bench_meta.create_all)
    async with db.write() as session:
        await ensure_default_levels(session=session)
        campaign = await load_campaign(
            session=session, definition=parse_definition(template_text()), now=BUILT
        )
    assert campaign.id is not None
    campaign_id = campaign.id

    rows, _ = generate(units, ordered=True)
    ids: dict[str, int] = {}
    paths: dict[int, str] = {}
    unit_rows: list[dict[str, Any]] = []
    for index, (code, name, level, parent, members) in enumerate(rows, start=1):
        parent_id = ids[parent] if parent else None
        path = child_path(paths[parent_id] if parent_id else None, index)
        ids[code] = index
        paths[index] = path
        unit_rows.append(
            {
                "id": index,
                "code": code,
                "name": name,
                "level_code": level,
                "parent_id": parent_id,
                "path": path,
                "depth": len(path) // 8 - 1,
                "members": _members(members),
                "active": True,
                "created_at": BUILT,
                "updated_at": BUILT,
            }
        )
    del rows
    async with db.write() as session:
        await _insert(session, Unit, unit_rows)

    async with db.read() as session:
        deliverables = (
            await session.execute(
                text(
                    "SELECT d.id, d.key, dd.level_code, dd.due_date FROM deliverable d "
                    "JOIN deliverable_deadline dd ON dd.deliverable_id = d.id "
                    "WHERE d.campaign_id = :c"
                ),
                {"c": campaign_id},
            )
        ).all()
    due: dict[str, list[tuple[int, str, date]]] = {}
    for d_id, key, level, day in deliverables:
        if isinstance(day, str):
            day = date.fromisoformat(day)
        due.setdefault(level, []).append((d_id, key, day))

    reports: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    report_id = 0
    start = date(2016, 5, 10)
    for unit in unit_rows:
        for d_id, key, day in due.get(unit["level_code"], []):
            if rng.random() >= 0.9:
                continue
            report_id += 1
            lead = rng.randint(-45, 12)  # days relative to the deadline; > 0 is late
            confirmed = end_of_day(day, "Asia/Ho_Chi_Minh") + timedelta(
                days=lead, hours=rng.randint(-20, -2)
            )
            members = unit["members"]
            measures: dict[str, Any]
            answers: dict[str, Any]
            if key == "hoi_nghi":
                attended = round(members * rng.uniform(0.85, 1.0))
                essays = round(attended * rng.uniform(0.85, 1.0))
                session_date = max(start, (confirmed - timedelta(days=rng.randint(1, 10))).date())
                measures = {
                    "session_date": session_date,
                    "duration_halfdays": rng.choice((1, 2, 2, 2, 3)),
                    "members": members,
                    "attended": attended,
                    "nonmembers_attended": rng.randint(0, 15),
                    "essays": essays,
                }
                answers = {**measures, "session_date": session_date.isoformat()}
                answers["presenter"] = "Đ/c Nguyễn Văn Báo"
            elif key == "chuong_trinh":
                built = rng.random() < 0.95
                program_date = (confirmed - timedelta(days=2)).date() if built else None
                measures = {"action_program": built, "action_program_date": program_date}
                answers = {
                    "action_program": built,
                    "action_program_date": program_date.isoformat() if program_date else None,
                }
            else:
                heads = rng.randint(1, 30)
                measures = {"heads": heads, "heads_with_plan": rng.randint(heads * 8 // 10, heads)}
                answers = dict(measures)
            corrected = key == "hoi_nghi" and rng.random() < 0.05
            reports.append(
                {
                    "id": report_id,
                    "campaign_id": campaign_id,
                    "deliverable_id": d_id,
                    "unit_id": unit["id"],
                    "first_confirmed_at": confirmed,
                    "current_version": 2 if corrected else 1,
                    "updated_at": confirmed,
                }
            )
            base = dict.fromkeys(
                (
                    "session_date",
                    "duration_halfdays",
                    "members",
                    "attended",
                    "nonmembers_attended",
                    "essays",
                    "action_program",
                    "action_program_date",
                    "heads_with_plan",
                    "heads",
                )
            )
            base.update(measures)
            versions.append(
                {
                    **base,
                    "report_id": report_id,
                    "version": 1,
                    "is_current": not corrected,
                    "created_at": confirmed,
                    "created_by_person_id": None,
                    "channel": "telegram",
                    "answers": answers,
                }
            )
            if corrected:
                later = confirmed + timedelta(days=rng.randint(3, 30))
                extra = min(int(measures["attended"]), int(measures["essays"]) + rng.randint(1, 5))
                versions.append(
                    {
                        **base,
                        "essays": extra,
                        "report_id": report_id,
                        "version": 2,
                        "is_current": True,
                        "created_at": later,
                        "created_by_person_id": None,
                        "channel": "telegram",
                        "answers": {**answers, "essays": extra},
                    }
                )
    async with db.write() as session:
        await _insert(session, Report, reports)
        await _insert(session, ReportVersion, versions)
    n_reports, n_versions = len(reports), len(versions)
    del reports, versions

    # Supervisors: half follow one subtree, half 1-20 random units anywhere.
    by_level: dict[str, list[int]] = {}
    for unit in unit_rows:
        by_level.setdefault(unit["level_code"], []).append(unit["id"])
    all_ids = [unit["id"] for unit in unit_rows]
    people: list[dict[str, Any]] = [
        {"id": n, "full_name": f"Ủy viên {n}", "created_at": BUILT}
        for n in range(1, SUPERVISORS + 1)
    ]
    roles: list[dict[str, Any]] = []
    follows: list[dict[str, Any]] = []
    for person in people:
        if person["id"] % 2:
            level = rng.choice(("huyen", "co_so"))
            followed = [rng.choice(by_level.get(level) or all_ids)]
        else:
            followed = rng.sample(all_ids, rng.randint(1, 20))
        for unit_id in followed:
            roles.append(
                {
                    "person_id": person["id"],
                    "kind": "supervisor",
                    "unit_id": unit_id,
                    "created_at": BUILT,
                }
            )
            follows.append(
                {
                    "person_id": person["id"],
                    "lo": paths[unit_id],
                    "hi": path_upper_bound(paths[unit_id]),
                }
            )
    async with db.write() as session:
        await _insert(session, Person, people)
        await _insert(session, Role, roles)
        await _insert(session, FOLLOW, follows)
        # The floor's mapping: every (supervisor, unit they see), once.
        await session.execute(
            text(
                "INSERT INTO bench_sees (person_id, unit_id) "
                "SELECT DISTINCT f.person_id, u.id FROM bench_follow f "
                "JOIN unit u ON u.path >= f.lo AND u.path < f.hi"
            )
        )
        if db.engine.dialect.name == "postgresql":
            for table in ("unit", "report", "person"):
                await session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    async with db.read() as session:
        sees = int((await session.execute(select(func.count()).select_from(SEES))).scalar_one())
    # The province closest to 5,000 units.
    sizes: dict[str, int] = {}
    for unit in unit_rows:
        sizes[unit["path"][:8]] = sizes.get(unit["path"][:8], 0) + 1
    province_path = min(sizes, key=lambda p: abs(sizes[p] - 5_000))
    return {
        "campaign_id": campaign_id,
        "units": len(unit_rows),
        "reports": n_reports,
        "versions": n_versions,
        "roles": len(roles),
        "sees": sees,
        "province_path": province_path,
        "province_units": sizes[province_path],
    }
