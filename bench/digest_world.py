"""The supervisor's world the digest benchmark measures (bench/digest_render.py): a province,
4 districts and grassroots units, the article's three deliverables, ~75% reported (some late,
some with shortcomings), and one supervisor following the 4 districts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from storage.db import Database
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
        person_id = person.id
    if db.engine.dialect.name == "postgresql":
        # A deployed database is analysed by autovacuum; these fresh tables are not yet, and
        # without statistics the planner takes them for empty (nested loops over 56,000 rows).
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return person_id
