"""Direct Core inserts for figures tests: levels, units (with paths), a campaign, deliverables,
deadlines, reports and their versions. Small on purpose: each test states its own numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.figures import CAMPAIGN, DELIVERABLE, REPORT
from storage.models import (
    MEASURES,
    Campaign,
    Deliverable,
    DeliverableDeadline,
    Level,
    Person,
    Report,
    ReportVersion,
    Role,
    Unit,
)
from storage.tree import child_path

CREATED = datetime(2016, 5, 1, tzinfo=UTC)

DEFAULT_LEVELS = (
    ("tinh", "Cấp tỉnh", "Province level", 1),
    ("huyen", "Cấp huyện", "District level", 2),
    ("co_so", "Cấp cơ sở", "Grassroots level", 3),
    ("chi_bo", "Chi bộ trực thuộc", "Subordinate cell", 4),
)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


@dataclass
class Builder:
    session: AsyncSession
    next_id: int = 1
    units: dict[str, tuple[int, str]] = field(default_factory=dict)  # code -> (id, path)
    deliverables: dict[str, int] = field(default_factory=dict)

    async def levels(self) -> None:
        await self.session.execute(
            insert(Level),
            [{"code": c, "label_vi": v, "label_en": e, "rank": r} for c, v, e, r in DEFAULT_LEVELS],
        )

    async def unit(
        self,
        code: str,
        level: str,
        parent: str | None = None,
        *,
        members: int = 0,
        active: bool = True,
        deactivated_at: datetime | None = None,
    ) -> int:
        unit_id = self.next_id
        self.next_id += 1
        parent_id, parent_path = self.units[parent] if parent else (None, None)
        path = child_path(parent_path, unit_id)
        await self.session.execute(
            insert(Unit).values(
                id=unit_id,
                code=code,
                name=f"Đảng bộ {code}",
                level_code=level,
                parent_id=parent_id,
                path=path,
                depth=len(path) // 8 - 1,
                members=members,
                active=active,
                deactivated_at=deactivated_at,
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        self.units[code] = (unit_id, path)
        return unit_id

    async def person(
        self,
        person_id: int,
        roles: list[tuple[str, str | None]],
        *,
        forgotten_at: datetime | None = None,
    ) -> int:
        """A person with roles (kind, unit code or None for the whole tree)."""
        await self.session.execute(
            insert(Person).values(
                id=person_id,
                full_name=f"Đồng chí {person_id}",
                created_at=CREATED,
                forgotten_at=forgotten_at,
            )
        )
        if roles:
            await self.session.execute(
                insert(Role),
                [
                    {
                        "person_id": person_id,
                        "kind": kind,
                        "unit_id": self.id(code) if code else None,
                        "created_at": CREATED,
                    }
                    for kind, code in roles
                ],
            )
        return person_id

    def path(self, code: str) -> str:
        return self.units[code][1]

    def id(self, code: str) -> int:
        return self.units[code][0]

    async def campaign(
        self,
        *,
        reference: str = "13-KH/TU",
        min_session_halfdays: int = 1,
        essay_rate_threshold: float = 0.9,
        scope: str | None = None,
    ) -> int:
        result = await self.session.execute(
            insert(Campaign)
            .values(
                reference=reference,
                name="Học tập, quán triệt Nghị quyết Đại hội XII",
                resolution="Nghị quyết Đại hội XII của Đảng",
                start_date=date(2016, 5, 15),
                timezone="Asia/Ho_Chi_Minh",
                scope_unit_id=self.id(scope) if scope else None,
                min_session_halfdays=min_session_halfdays,
                essay_rate_threshold=essay_rate_threshold,
                definition={},
                created_at=CREATED,
                updated_at=CREATED,
            )
            .returning(CAMPAIGN.c.id)
        )
        return int(result.scalar_one())

    async def deliverable(
        self,
        campaign_id: int,
        key: str,
        deadlines: dict[str, date],
        *,
        position: int = 0,
        form: dict[str, Any] | None = None,
    ) -> int:
        result = await self.session.execute(
            insert(Deliverable)
            .values(
                campaign_id=campaign_id,
                key=key,
                name_vi=f"Báo cáo {key}",
                name_en=f"Report {key}",
                position=position,
                form=form or {},
            )
            .returning(DELIVERABLE.c.id)
        )
        deliverable_id = int(result.scalar_one())
        await self.session.execute(
            insert(DeliverableDeadline),
            [
                {"deliverable_id": deliverable_id, "level_code": lv, "due_date": due}
                for lv, due in deadlines.items()
            ],
        )
        self.deliverables[key] = deliverable_id
        return deliverable_id

    async def report(
        self, campaign_id: int, key: str, unit: str, at: datetime, **measures: Any
    ) -> int:
        result = await self.session.execute(
            insert(Report)
            .values(
                campaign_id=campaign_id,
                deliverable_id=self.deliverables[key],
                unit_id=self.id(unit),
                first_confirmed_at=at,
                current_version=1,
                updated_at=at,
            )
            .returning(REPORT.c.id)
        )
        report_id = int(result.scalar_one())
        await self._version(report_id, 1, at, measures)
        return report_id

    async def correct(self, report_id: int, at: datetime, **changes: Any) -> int:
        """A new version: the current measures with `changes` applied."""
        current = (
            await self.session.execute(
                select(ReportVersion).where(
                    ReportVersion.report_id == report_id,  # type: ignore[arg-type]
                    ReportVersion.is_current.is_(True),  # type: ignore[attr-defined]
                )
            )
        ).scalar_one()
        measures = {m: getattr(current, m) for m in MEASURES} | changes
        version = current.version + 1
        await self.session.execute(
            update(ReportVersion)
            .where(ReportVersion.id == current.id)  # type: ignore[arg-type]
            .values(is_current=False)
        )
        await self._version(report_id, version, at, measures)
        await self.session.execute(
            update(Report)
            .where(Report.id == report_id)  # type: ignore[arg-type]
            .values(current_version=version, updated_at=at)
        )
        return version

    async def _version(
        self, report_id: int, version: int, at: datetime, measures: dict[str, Any]
    ) -> None:
        unknown = set(measures) - set(MEASURES)
        assert not unknown, unknown
        await self.session.execute(
            insert(ReportVersion).values(
                report_id=report_id,
                version=version,
                is_current=True,
                created_at=at,
                channel="cli",
                answers={k: v for k, v in measures.items() if not isinstance(v, date)},
                **measures,
            )
        )


# -------------------------------------------------------------------------------------------
# The reference tree used by figures and shortcomings tests.
#
# TU (tinh, 50)
# ├── H1 (huyen, 40)
# │   ├── C11 (co_so, 30)
# │   ├── C12 (co_so, 20)
# │   └── C13 (co_so, 0 members)
# └── H2 (huyen, 60)
#     ├── C21 (co_so, 25)      never reports the study session
#     └── C22 (co_so, 10)      reported, then deactivated on 15/8/2016
#
# Deadlines (local days, Asia/Ho_Chi_Minh = UTC+7): hoi_nghi tinh 30/6, huyen 31/7, co_so 31/8,
# chi_bo 31/8 (no chi_bo unit exists); chuong_trinh and ke_hoach 30/9 for tinh, huyen, co_so.

HOI_NGHI = {
    "tinh": date(2016, 6, 30),
    "huyen": date(2016, 7, 31),
    "co_so": date(2016, 8, 31),
    "chi_bo": date(2016, 8, 31),
}
SEPT_30 = {lv: date(2016, 9, 30) for lv in ("tinh", "huyen", "co_so")}
DEACTIVATED = utc(2016, 8, 15)


@dataclass
class Reference:
    builder: Builder
    campaign_id: int
    reports: dict[tuple[str, str], int]


async def reference_tree(
    session: AsyncSession, *, min_session_halfdays: int = 2, essay_rate_threshold: float = 0.9
) -> Reference:
    b = Builder(session)
    await b.levels()
    await b.unit("TU", "tinh", members=50)
    await b.unit("H1", "huyen", "TU", members=40)
    await b.unit("C11", "co_so", "H1", members=30)
    await b.unit("C12", "co_so", "H1", members=20)
    await b.unit("C13", "co_so", "H1", members=0)
    await b.unit("H2", "huyen", "TU", members=60)
    await b.unit("C21", "co_so", "H2", members=25)
    await b.unit("C22", "co_so", "H2", members=10, active=False, deactivated_at=DEACTIVATED)
    cid = await b.campaign(
        min_session_halfdays=min_session_halfdays, essay_rate_threshold=essay_rate_threshold
    )
    await b.deliverable(cid, "hoi_nghi", HOI_NGHI, position=1)
    await b.deliverable(cid, "chuong_trinh", SEPT_30, position=2)
    await b.deliverable(cid, "ke_hoach", SEPT_30, position=3)

    reports: dict[tuple[str, str], int] = {}

    async def session_report(unit: str, at: datetime, m: int, a: int, e: int, d: int) -> None:
        reports[("hoi_nghi", unit)] = await b.report(
            cid,
            "hoi_nghi",
            unit,
            at,
            session_date=at.date(),
            duration_halfdays=d,
            members=m,
            attended=a,
            nonmembers_attended=3,
            essays=e,
        )

    await session_report("TU", utc(2016, 6, 5, 3), 50, 48, 45, 2)
    # 16:59 UTC = 23:59 local on the deadline day: on time.
    await session_report("H1", utc(2016, 7, 31, 16, 59), 40, 38, 36, 2)
    # 17:00 UTC = 00:00 local the next day: late.
    await session_report("H2", utc(2016, 7, 31, 17, 0), 60, 55, 50, 2)
    await session_report("C11", utc(2016, 8, 10, 2), 30, 28, 25, 1)  # short session, low essays
    await session_report("C12", utc(2016, 8, 20, 2), 20, 20, 20, 2)
    await session_report("C13", utc(2016, 8, 21, 2), 0, 0, 0, 2)
    await session_report("C22", utc(2016, 8, 1, 2), 10, 10, 5, 2)
    # A correction well after the deadline: more essays came in; H1 stays on time.
    await b.correct(reports[("hoi_nghi", "H1")], utc(2016, 9, 1, 10), essays=37)

    async def program(unit: str, at: datetime, built: bool) -> None:
        reports[("chuong_trinh", unit)] = await b.report(
            cid,
            "chuong_trinh",
            unit,
            at,
            action_program=built,
            action_program_date=date(2016, 9, 1) if built else None,
        )

    await program("TU", utc(2016, 9, 2), True)
    await program("H1", utc(2016, 9, 3), True)
    await program("H2", utc(2016, 9, 4), False)
    await program("C11", utc(2016, 9, 5), True)
    await program("C13", utc(2016, 9, 6), True)
    await program("C21", utc(2016, 10, 2), True)  # after the 30/9 deadline: late

    async def plan(unit: str, at: datetime, with_plan: int, heads: int) -> None:
        reports[("ke_hoach", unit)] = await b.report(
            cid, "ke_hoach", unit, at, heads_with_plan=with_plan, heads=heads
        )

    await plan("TU", utc(2016, 9, 10), 10, 10)
    await plan("H1", utc(2016, 9, 11), 8, 10)
    await plan("C11", utc(2016, 9, 12), 3, 3)
    await plan("C12", utc(2016, 9, 13), 2, 2)
    await plan("C13", utc(2016, 9, 14), 1, 2)
    return Reference(b, cid, reports)


async def article_campaign(session: AsyncSession) -> Reference:
    """A province whose numbers are the article's: essays 94,8% at province and district level
    pooled, 92,7% at grassroots level, 100% action programs, 93,5% heads with an action plan."""
    b = Builder(session)
    await b.levels()
    await b.unit("BN", "tinh", members=420)
    await b.unit("TP", "huyen", "BN", members=330)
    await b.unit("TS", "huyen", "BN", members=300)
    await b.unit("X1", "co_so", "TP", members=520)
    await b.unit("X2", "co_so", "TS", members=510)
    cid = await b.campaign(min_session_halfdays=1)
    await b.deliverable(cid, "hoi_nghi", HOI_NGHI, position=1)
    await b.deliverable(cid, "chuong_trinh", SEPT_30, position=2)
    await b.deliverable(cid, "ke_hoach", SEPT_30, position=3)
    sessions = {  # unit: (members, attended, essays); tinh+huyen 948/1000, co_so 927/1000
        "BN": (420, 400, 380),
        "TP": (330, 320, 303),
        "TS": (300, 280, 265),
        "X1": (520, 500, 466),
        "X2": (510, 500, 461),
    }
    plans = {"BN": (40, 40), "TP": (47, 50), "TS": (36, 40), "X1": (33, 35), "X2": (31, 35)}
    reports: dict[tuple[str, str], int] = {}
    for code, (m, a, e) in sessions.items():
        reports[("hoi_nghi", code)] = await b.report(
            cid,
            "hoi_nghi",
            code,
            utc(2016, 6, 20),
            session_date=date(2016, 6, 20),
            duration_halfdays=2,
            members=m,
            attended=a,
            essays=e,
        )
        reports[("chuong_trinh", code)] = await b.report(
            cid, "chuong_trinh", code, utc(2016, 9, 20), action_program=True
        )
        hp, h = plans[code]
        reports[("ke_hoach", code)] = await b.report(
            cid, "ke_hoach", code, utc(2016, 9, 25), heads_with_plan=hp, heads=h
        )
    return Reference(b, cid, reports)


# -------------------------------------------------------------------------------------------
# A random tree for comparing compute_figures_many with compute_figures cell by cell.


@dataclass
class RandomTree:
    builder: Builder
    campaign_id: int
    scoped_campaign_id: int  # the same deliverables, scoped to the first province
    codes: list[str]


async def random_tree(session: AsyncSession, seed: int) -> RandomTree:
    """Two provinces, 2-3 districts each, 2-4 grassroots units each, 0-3 cells each (about 60
    units); some units deactivated (before or after the as-of dates tested), ~80% of pairs
    reported around their deadline, some corrected later; some grassroots units with 0 members."""
    rng = random.Random(seed)
    b = Builder(session)
    await b.levels()
    codes: list[str] = []

    async def unit(code: str, level: str, parent: str | None) -> None:
        gone = rng.random() < 0.1
        await b.unit(
            code,
            level,
            parent,
            members=0 if rng.random() < 0.05 else rng.randint(3, 80),
            active=not gone,
            deactivated_at=utc(2016, rng.choice((7, 9, 11)), 15) if gone else None,
        )
        codes.append(code)

    for p in range(2):
        await unit(f"P{p}", "tinh", None)
        for d in range(rng.randint(2, 3)):
            await unit(f"P{p}D{d}", "huyen", f"P{p}")
            for g in range(rng.randint(2, 4)):
                await unit(f"P{p}D{d}G{g}", "co_so", f"P{p}D{d}")
                for c in range(rng.randint(0, 3)):
                    await unit(f"P{p}D{d}G{g}C{c}", "chi_bo", f"P{p}D{d}G{g}")
    cid = await b.campaign()
    await b.deliverable(cid, "hoi_nghi", HOI_NGHI, position=1)
    plan_due = {lv: date(2016, 9, 30) for lv in ("tinh", "huyen", "co_so", "chi_bo")}
    await b.deliverable(cid, "chuong_trinh", SEPT_30, position=2)
    await b.deliverable(cid, "ke_hoach", plan_due, position=3)
    deadlines = {"hoi_nghi": HOI_NGHI, "chuong_trinh": SEPT_30, "ke_hoach": plan_due}
    levels = _levels_by_code(codes)
    for code in codes:
        for key, due in deadlines.items():
            if levels[code] not in due or rng.random() < 0.2:
                continue
            at = datetime.combine(due[levels[code]], datetime.min.time(), UTC) + timedelta(
                days=rng.randint(-40, 12), hours=rng.randint(0, 23)
            )
            if key == "hoi_nghi":
                members = rng.randint(0, 60)
                attended = rng.randint(0, members)
                measures: dict[str, Any] = {
                    "session_date": at.date(),
                    "duration_halfdays": rng.randint(1, 3),
                    "members": members,
                    "attended": attended,
                    "nonmembers_attended": rng.randint(0, 5),
                    "essays": rng.randint(0, attended),
                }
            elif key == "chuong_trinh":
                measures = {"action_program": rng.random() < 0.8}
            else:
                heads = rng.randint(1, 12)
                measures = {"heads": heads, "heads_with_plan": rng.randint(0, heads)}
            report_id = await b.report(cid, key, code, at, **measures)
            if key == "hoi_nghi" and rng.random() < 0.3:
                fix = min(measures["attended"], measures["essays"] + rng.randint(0, 3))
                await b.correct(report_id, at + timedelta(days=rng.randint(1, 20)), essays=fix)
    scoped = await b.campaign(reference="14-KH/TU", scope="P0")
    b.deliverables = {}
    await b.deliverable(scoped, "hoi_nghi", HOI_NGHI, position=1)
    return RandomTree(b, cid, scoped, codes)


def _levels_by_code(codes: list[str]) -> dict[str, str]:
    """Level of each random-tree code from its shape (P0, P0D1, P0D1G2, P0D1G2C0)."""
    names = {1: "tinh", 2: "huyen", 3: "co_so", 4: "chi_bo"}
    return {code: names[sum(ch.isalpha() for ch in code)] for code in codes}
