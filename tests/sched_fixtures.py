"""Helpers for the scheduler tests: a small unit tree with people, a campaign, fake time and a
fake channel. Rows are written directly (the scheduler only reads the tree)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from scheduler.channels import SendResult
from storage.db import Database, create_engine
from storage.messages import OutgoingMessage
from storage.models import (
    ROLE_ADMIN,
    ROLE_REPORTER,
    ROLE_SUPERVISOR,
    Campaign,
    ChatIdentity,
    Deliverable,
    DeliverableDeadline,
    Level,
    Person,
    Report,
    Role,
    Unit,
)
from storage.reminders import NudgeOutcome
from storage.tree import child_path
from tests.conftest import POSTGRES_URL

TZ = "Asia/Ho_Chi_Minh"
ZONE = ZoneInfo(TZ)
T0 = datetime(2016, 5, 1, 1, 0, tzinfo=ZONE)


def must(value: int | None) -> int:
    """An id that the flush has set."""
    assert value is not None
    return value


def local(y: int, m: int, d: int, h: int = 8, mi: int = 0) -> datetime:
    """An aware moment in Hanoi time."""
    return datetime(y, m, d, h, mi, tzinfo=ZONE)


class FakeClock:
    """A settable wall clock for `Clock` parameters."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class JumpTime:
    """Monotonic time whose sleep returns at once, moving time forward (for the sender tests)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


class VirtualTime:
    """Discrete-event virtual time for pure-asyncio code: `sleep` parks the task; `run` lets every
    task run until all are parked, then wakes the earliest sleepers and moves time to them."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def _settle(self) -> None:
        stable = 0
        last = -1
        while stable < 5:
            await asyncio.sleep(0)
            size = len(self._sleepers)
            stable = stable + 1 if size == last else 0
            last = size

    async def run(self, awaitable: Any) -> Any:
        task = asyncio.ensure_future(awaitable)
        while not task.done():
            await self._settle()
            if task.done() or not self._sleepers:
                continue
            wake = self._sleepers[0][0]
            self.now = max(self.now, wake)
            while self._sleepers and self._sleepers[0][0] <= wake:
                _, _, future = heapq.heappop(self._sleepers)
                future.set_result(None)
        return task.result()


@dataclass
class FakeChannel:
    """Records what it sends; `script[chat_id]` lists outcomes to play first (an exception to
    raise, or None for success)."""

    name: str = "telegram"
    script: dict[str, list[BaseException | None]] = field(default_factory=dict)
    sent: list[tuple[str, OutgoingMessage]] = field(default_factory=list)
    calls: int = 0
    on_send: Any = None

    async def send(self, chat_id: str, message: OutgoingMessage) -> SendResult:
        self.calls += 1
        outcomes = self.script.get(chat_id)
        if outcomes:
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome
        self.sent.append((chat_id, message))
        if self.on_send is not None:
            self.on_send(chat_id, message)
        return SendResult(message_id=str(len(self.sent)))

    def texts_to(self, chat_id: str) -> list[str]:
        return [m.text for c, m in self.sent if c == chat_id]


@asynccontextmanager
async def second_database(db: Database) -> AsyncIterator[Database]:
    """Another engine on the same database (another process, as far as the database can tell)."""
    if db.is_sqlite:
        other = Database(create_engine(db.engine.url))
    else:
        async with db.read() as session:
            schema = (await session.execute(text("SELECT current_schema()"))).scalar_one()
        assert POSTGRES_URL
        other = Database(create_engine(POSTGRES_URL, search_path=schema))
    try:
        yield other
    finally:
        await other.dispose()


# --------------------------------------------------------------------------------- the world


LEVELS = [
    ("tinh", "Cấp tỉnh", "Province", 0),
    ("huyen", "Cấp huyện", "District", 1),
    ("co_so", "Cấp cơ sở", "Grassroots", 2),
]


async def add_levels(session: AsyncSession) -> None:
    await session.execute(
        insert(Level),
        [{"code": c, "label_vi": vi, "label_en": en, "rank": r} for c, vi, en, r in LEVELS],
    )


async def make_unit(
    session: AsyncSession, code: str, name: str, level: str, parent: Unit | None
) -> Unit:
    unit = Unit(
        code=code,
        name=name,
        level_code=level,
        parent_id=parent.id if parent else None,
        path="x",
        depth=(parent.depth + 1) if parent else 0,
        members=30,
        created_at=T0,
        updated_at=T0,
    )
    session.add(unit)
    await session.flush()
    assert unit.id is not None
    unit.path = child_path(parent.path if parent else None, unit.id)
    await session.flush()
    return unit


async def make_person(
    session: AsyncSession,
    name: str,
    *,
    chat_id: str | None = None,
    channel: str = "telegram",
    language: str | None = None,
) -> Person:
    person = Person(full_name=name, language=language, created_at=T0)
    session.add(person)
    await session.flush()
    assert person.id is not None
    if chat_id is not None:
        session.add(
            ChatIdentity(
                person_id=person.id,
                channel=channel,
                external_id=chat_id,
                chat_id=chat_id,
                bound_at=T0,
                last_seen_at=T0,
            )
        )
        await session.flush()
    return person


async def add_role(session: AsyncSession, person: Person, kind: str, unit: Unit | None) -> None:
    session.add(
        Role(person_id=must(person.id), kind=kind, unit_id=unit.id if unit else None, created_at=T0)
    )
    await session.flush()


async def make_campaign(
    session: AsyncSession,
    deliverables: list[tuple[str, str, dict[str, date]]],
    *,
    reference: str = "13-KH/TU",
    definition: dict[str, Any] | None = None,
) -> tuple[Campaign, dict[str, Deliverable]]:
    campaign = Campaign(
        reference=reference,
        name=f"Kế hoạch {reference}",
        resolution="Nghị quyết Đại hội XII",
        start_date=date(2016, 5, 1),
        timezone=TZ,
        definition=definition or {},
        created_at=T0,
        updated_at=T0,
    )
    session.add(campaign)
    await session.flush()
    made: dict[str, Deliverable] = {}
    for position, (key, name_vi, deadlines) in enumerate(deliverables):
        item = Deliverable(
            campaign_id=must(campaign.id),
            key=key,
            name_vi=name_vi,
            name_en=f"{key} (en)",
            position=position,
        )
        session.add(item)
        await session.flush()
        for level, due in deadlines.items():
            session.add(
                DeliverableDeadline(deliverable_id=must(item.id), level_code=level, due_date=due)
            )
        made[key] = item
    await session.flush()
    return campaign, made


async def confirm_report(
    session: AsyncSession, deliverable: Deliverable, unit: Unit, at: datetime
) -> None:
    session.add(
        Report(
            campaign_id=deliverable.campaign_id,
            deliverable_id=must(deliverable.id),
            unit_id=must(unit.id),
            first_confirmed_at=at,
            updated_at=at,
        )
    )
    await session.flush()


async def set_campaign_status(db: Database, campaign_id: int, status: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(Campaign).where(col(Campaign.id) == campaign_id).values(status=status)
        )


DUE = date(2016, 6, 10)


@dataclass
class World:
    """Province TU > district H1 > cells CS1, CS2; H2 (no supervisor) > CS3.

    Reporters r1 (CS1), r2 (CS2), r3 (CS3); supervisor s_h1 on H1, s_tu on TU; admin over all.
    One deliverable, the study session, due 10/6/2016 at grassroots level."""

    campaign: Campaign
    deliverables: dict[str, Deliverable]
    units: dict[str, Unit]
    people: dict[str, Person]

    def pid(self, name: str) -> int:
        return must(self.people[name].id)

    def uid(self, code: str) -> int:
        return must(self.units[code].id)


async def build_world(
    db: Database,
    *,
    deliverables: list[tuple[str, str, dict[str, date]]] | None = None,
    definition: dict[str, Any] | None = None,
) -> World:
    async with db.write() as session:
        await add_levels(session)
        tu = await make_unit(session, "TU", "Tỉnh ủy Bắc Ninh", "tinh", None)
        h1 = await make_unit(session, "H1", "Huyện ủy Yên Phong", "huyen", tu)
        h2 = await make_unit(session, "H2", "Huyện ủy Tiên Du", "huyen", tu)
        cs1 = await make_unit(session, "CS1", "Đảng bộ xã Đông Phong", "co_so", h1)
        cs2 = await make_unit(session, "CS2", "Đảng bộ xã Yên Trung", "co_so", h1)
        cs3 = await make_unit(session, "CS3", "Đảng bộ xã Lạc Vệ", "co_so", h2)
        people = {
            "r1": await make_person(session, "Nguyễn Văn Một", chat_id="101"),
            "r2": await make_person(session, "Trần Thị Hai", chat_id="102"),
            "r3": await make_person(session, "Lê Văn Ba", chat_id="103", language="en"),
            "s_h1": await make_person(session, "Phạm Văn Giám", chat_id="201"),
            "s_tu": await make_person(session, "Hoàng Thị Sát", chat_id="202"),
            "admin": await make_person(session, "Vũ Văn Quản", chat_id="301"),
        }
        await add_role(session, people["r1"], ROLE_REPORTER, cs1)
        await add_role(session, people["r2"], ROLE_REPORTER, cs2)
        await add_role(session, people["r3"], ROLE_REPORTER, cs3)
        await add_role(session, people["s_h1"], ROLE_SUPERVISOR, h1)
        await add_role(session, people["s_tu"], ROLE_SUPERVISOR, tu)
        await add_role(session, people["admin"], ROLE_ADMIN, None)
        campaign, made = await make_campaign(
            session,
            deliverables or [("hoi_nghi", "Hội nghị học tập, quán triệt", {"co_so": DUE})],
            definition=definition,
        )
    units = {"TU": tu, "H1": h1, "H2": h2, "CS1": cs1, "CS2": cs2, "CS3": cs3}
    return World(campaign=campaign, deliverables=made, units=units, people=people)


async def nudge(db: Database, world: World, code: str, by: str, now: datetime) -> NudgeOutcome:
    """`/nhacnho CODE` by `by` (a name in the world) at `now`, in its own transaction."""
    from scheduler.reminders import nudge_unit

    async with db.write() as session:
        return await nudge_unit(
            session=session, unit_id=world.uid(code), by_person_id=world.pid(by), now=now
        )
