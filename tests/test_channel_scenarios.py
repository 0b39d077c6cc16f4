"""One scenario table, run through both adapters: Telegram (the local Bot API of
bot/telegram/local.py) and Zalo (the Zalo Bot API stub over HTTP, with the bot's own server for
the chart and the signed downloads). A supervisor on Zalo alone does what a Telegram supervisor
does (digest with chart, unit view, nudge, workbook), an admin on Zalo alone invites, assigns and
closes a campaign; strangers and units outside the scope get the same refusals on both."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from bot.zalo.adapter import ZaloAdapter
from bot.zalo.channel import ZaloChannel
from bot.zalo.client import ZaloClient
from bot.zalo.downloads import DownloadStore, download_route
from bot.zalo.media import MediaStore
from bot.zalo.webhook import ZaloServer
from storage.db import Database
from storage.i18n import t
from storage.models import (
    CHANNEL_CLI,
    ROLE_ADMIN,
    ROLE_REPORTER,
    Campaign,
    Outbox,
    Role,
    Unit,
)
from storage.reports import save_report
from tests.factories import make_person, make_unit, pk
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import (
    RecordingRequest,
    TelegramHarness,
    TgUser,
    UpdateFactory,
    bind,
)
from tests.zalo_fixtures import bind_zalo, kept, zalo_settings
from tests.zalo_stub import TOKEN, ZaloStub, ZaloUpdates, ZaloUser

WHO = ("supervisor", "admin", "reporter", "stranger", "outsider")


class Driver(Protocol):
    channel: str

    async def say(self, who: str, text: str) -> list[str]: ...

    def update(self, who: str, text: str) -> dict[str, Any]: ...

    async def process(self, who: str, update: dict[str, Any]) -> list[str]: ...

    def photos(self) -> int: ...

    async def workbook(self, texts: list[str]) -> bytes: ...


@dataclass
class TelegramDriver:
    harness: TelegramHarness
    request: RecordingRequest
    users: dict[str, TgUser]
    channel: str = "telegram"

    @property
    def updates(self) -> UpdateFactory:
        return self.harness.updates

    async def say(self, who: str, text: str) -> list[str]:
        return (await self.harness.send(text, self.users[who])).texts()

    def update(self, who: str, text: str) -> dict[str, Any]:
        return self.harness.updates.text(text, self.users[who])

    async def process(self, who: str, update: dict[str, Any]) -> list[str]:
        return (await self.harness.process(update)).texts()

    def photos(self) -> int:
        return len([c for c in self.request.calls if c.method == "sendPhoto"])

    async def workbook(self, texts: list[str]) -> bytes:
        [(_name, data)] = [f for f in self.request.files if f[0].endswith(".xlsx")][-1:]
        return data


@dataclass
class ZaloDriver:
    adapter: ZaloAdapter
    stub: ZaloStub
    downloads: DownloadStore
    users: dict[str, ZaloUser]
    updates: ZaloUpdates = field(default_factory=lambda: ZaloUpdates(NOW))
    channel: str = "zalo"

    async def say(self, who: str, text: str) -> list[str]:
        return await self.process(who, self.update(who, text))

    def update(self, who: str, text: str) -> dict[str, Any]:
        return self.updates.text(self.users[who], text)

    async def process(self, who: str, update: dict[str, Any]) -> list[str]:
        user = self.users[who]
        mark = len(self.stub.sent(user.id))
        await self.adapter.process(update)
        return self.stub.texts(user.id, since=mark)

    def photos(self) -> int:
        return len(self.stub.photos)

    async def workbook(self, texts: list[str]) -> bytes:
        [url] = re.findall(r"https?://\S+", "\n".join(texts))
        async with httpx.AsyncClient(timeout=120.0) as http:
            response = await http.get(url)
        assert response.status_code == 200, response.text
        return response.content


@dataclass
class Setup:
    world: World
    db: Database
    driver: Driver
    outsider_id: int


async def _world(db: Database) -> tuple[World, dict[str, int]]:
    world = await build_world(db)
    async with db.write() as session:
        province = await session.get(Unit, world.province_id)
        other = await make_unit(session, "H2", parent=province, level="huyen", members=90)
        outside = await make_unit(
            session, "CS3", parent=other, level="co_so", members=40, name="Đảng bộ xã Bắc"
        )
        outsider = await make_person(session, "Đỗ Thị F", roles=[(ROLE_REPORTER, outside)])
        admin = await make_person(session, "Ban Tuyên giáo", roles=[(ROLE_ADMIN, None)])
    people = {
        "supervisor": world.supervisor_id,
        "admin": pk(admin),
        "reporter": world.reporter_id,
        "outsider": pk(outsider),
    }
    return world, people


@pytest.fixture(params=["telegram", "zalo"])
async def setup(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[Setup]:
    world, people = await _world(db)
    if request.param == "telegram":
        users = {w: TgUser(8600 + i, w) for i, w in enumerate(WHO)}
        for who, person_id in people.items():
            await bind(db, person_id, users[who])
        recording = RecordingRequest(lambda: NOW)
        harness = await TelegramHarness.start(db=db, clock=lambda: NOW, request=recording)
        yield Setup(world, db, TelegramDriver(harness, recording, users), people["outsider"])
        await harness.stop()
        return
    zusers = {w: ZaloUser(f"zu-86{i:02d}", w) for i, w in enumerate(WHO)}
    for who, person_id in people.items():
        await bind_zalo(db, person_id, zusers[who])
    stub = await ZaloStub.start()
    settings = zalo_settings(zalo_api_url=stub.base_url)
    client = ZaloClient(TOKEN, stub.base_url)
    media = MediaStore(None, kept(db))
    downloads = DownloadStore(None, kept(db))
    server = ZaloServer(
        path="/zalo", media=media, routes=[download_route("/zalo", downloads, "vi")]
    )
    port = server.start("127.0.0.1", 0)
    media.public_base = downloads.public_base = f"http://127.0.0.1:{port}/zalo"
    sender = ZaloChannel(client, media=media, rate=1000.0)
    adapter = ZaloAdapter(
        db=db,
        clock=lambda: NOW,
        settings=settings,
        client=client,
        sender=sender,
        downloads=downloads,
    )
    driver = ZaloDriver(adapter, stub, downloads, zusers)
    yield Setup(world, db, driver, people["outsider"])
    await server.stop()
    await client.aclose()
    await stub.stop()


# --- the table --------------------------------------------------------------------------------

Check = Callable[[list[str], Setup], None]


def one(check: Callable[[str], bool]) -> Check:
    def verify(texts: list[str], setup: Setup) -> None:
        assert len(texts) == 1, texts
        assert check(texts[0]), texts[0]

    return verify


def first(check: Callable[[str], bool]) -> Check:
    def verify(texts: list[str], setup: Setup) -> None:
        assert texts and check(texts[0]), texts

    return verify


def exactly(key: str, **params: Any) -> Check:
    return one(lambda text: text == t(key, "vi", **params))


def refusal(texts: list[str], setup: Setup) -> None:
    organisation = t("organisation.name", "vi")  # the default: no setting in these tests
    assert texts == [t(f"{setup.driver.channel}.refusal", "vi", organisation=organisation)]


SCENARIOS: list[tuple[str, str, Check]] = [
    ("supervisor", "/donvi CS1", one(lambda s: s.startswith("Đảng bộ xã Đông (mã CS1)"))),
    ("supervisor", "/donvi CS3", exactly("unit.not_visible", code="CS3")),
    ("supervisor", "/donvi NOPE", exactly("unit.not_visible", code="NOPE")),
    ("supervisor", "/nhacnho CS3", exactly("unit.not_visible", code="CS3")),
    (
        "supervisor",
        "/nhacnho CS1",
        one(
            lambda text: (
                text.startswith(t("nudge.queued", "vi", unit="Đảng bộ xã Đông (mã CS1)"))
                and "\nChưa kết nối, cần gọi trực tiếp: " in text
            )  # CS1 has unconnected reporters
        ),
    ),
    # CS2's only reporter has no chat account: nothing is sent, and whom to call is said.
    (
        "supervisor",
        "/nhacnho CS2",
        one(
            lambda text: (
                text.startswith("Chưa gửi được lời nhắc: người báo cáo của Đảng bộ xã Tây (mã CS2)")
                and text.endswith(
                    "Đồng chí vui lòng gọi trực tiếp: Trần Văn D (chưa có số điện thoại)."
                )
            )
        ),
    ),
    # /donvi is a calling list: every reporter with their phone, who is not connected.
    (
        "supervisor",
        "/donvi CS2",
        one(lambda s: "Người báo cáo: Trần Văn D, điện thoại chưa có (chưa kết nối chat" in s),
    ),
    ("supervisor", "/thongke", exactly("cmd.admin_only")),
    ("supervisor", "/trogiup", one(lambda s: "/tonghop" in s and "/xuat" in s and "/moi" not in s)),
    # The supervisor's choice of escalation days is in the help on both channels (#14.4).
    (
        "supervisor",
        "/trogiup",
        one(lambda s: f"/nhacnho caidat — {t('cmd.nhacnho_caidat', 'vi')}" in s),
    ),
    ("reporter", "/trogiup", one(lambda s: "/baocao" in s and "/nhacnho" not in s)),
    ("admin", "/trogiup", one(lambda s: "/phancong" in s and "/dot" in s)),
    ("supervisor", "/moi baocao CS1", refusal),
    ("reporter", "/tonghop", exactly("cmd.not_allowed")),
    ("reporter", "/dot", refusal),
    ("stranger", "/tonghop", refusal),
    ("stranger", "/xuat", refusal),
    ("stranger", "xin chào", refusal),
    ("admin", "/donvi CS3", one(lambda s: s.startswith("Đảng bộ xã Bắc (mã CS3)"))),
    ("admin", "/moi giamsat CS9", exactly("admin.unit.not_found", code="CS9")),
    ("admin", "/moi baocao CS1 Nguyễn Văn Mới", one(lambda s: s.startswith("Đã tạo mã mời"))),
    ("admin", "/thongke", first(lambda s: s.startswith("Thống kê toàn bộ phạm vi quản trị"))),
    ("admin", "/dot", one(lambda s: "\n1. 13-KH/TU — " in s and "/dot dong 2" in s)),
]


@pytest.mark.parametrize(("who", "typed", "check"), SCENARIOS, ids=[s[1] for s in SCENARIOS])
async def test_the_same_answer_on_every_channel(
    setup: Setup, who: str, typed: str, check: Check
) -> None:
    texts = await setup.driver.say(who, typed)
    check(texts, setup)
    if setup.driver.channel == "zalo":
        assert not any("bấm" in text.lower() for text in texts)


async def test_a_supervisor_gets_the_digest_with_its_chart(setup: Setup) -> None:
    before = setup.driver.photos()
    texts = await setup.driver.say("supervisor", "/tonghop")
    assert setup.driver.photos() == before + 1
    text = "\n".join(texts)
    assert "Bản tổng hợp tuần 39/2016 — Đợt học tập 13-KH/TU" in text
    assert "Đảng bộ xã Bắc" not in text and "CS3" not in text
    if setup.driver.channel == "zalo":  # a proportional font: the table as a list
        assert re.search(r"• Cấp cơ sở: \(1\) 0/2", text), text
        assert "bấm" not in text.lower()
    else:  # a fixed-width font inside <pre> (HTML parse mode)
        # the campaign declares the article's reporting groups: the rows are groups ("Nhóm")
        assert "<pre>Nhóm " in text and re.search(r"\nCấp cơ sở {2,}0/2 {2,}0/2", text), text


async def test_the_digest_lists_weak_presenters_on_both_channels(setup: Setup) -> None:
    """A presenter of none of the expected standings is the article's first shortcoming (#13.4):
    the digest says it with its share on Telegram and on Zalo alike."""
    async with setup.db.write() as session:
        await save_report(
            session=session,
            unit_id=setup.world.unit_id,
            deliverable_id=setup.world.deliverables["hoi_nghi"],
            answers={
                "session_date": date(2016, 8, 20),
                "duration_halfdays": 2,
                "members": 30,
                "attended": 28,
                "presenter_standing": "khac",
                "essays": 27,
            },
            person_id=setup.world.reporter_id,
            channel=CHANNEL_CLI,
            now=NOW,
        )
    text = "\n".join(await setup.driver.say("supervisor", "/tonghop"))
    assert (
        "\nHạn chế:\n- Chất lượng báo cáo viên chưa cao (hội nghị được đánh giá chưa đạt hoặc báo "
        "cáo viên không thuộc các đối tượng quy định): 1/1 đơn vị (100%): "
        "Đảng bộ xã Đông (CS1)"
    ) in text
    if setup.driver.channel == "zalo":
        assert "bấm" not in text.lower()


async def test_a_supervisor_exports_the_workbook_of_their_units(setup: Setup) -> None:
    texts = await setup.driver.say("supervisor", "/xuat")
    data = await setup.driver.workbook(texts)
    book = load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames
    cells = " ".join(
        str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )
    assert "Đảng bộ xã Đông" in cells and "Đảng bộ xã Bắc" not in cells
    refused = await setup.driver.say("supervisor", "/xuat CS3")
    assert refused == [t("admin.unit.not_found", "vi", code="CS3")]


async def test_an_admin_assigns_and_closes_a_campaign(setup: Setup) -> None:
    texts = await setup.driver.say("admin", f"/phancong {setup.outsider_id} CS1")
    assert texts == [
        t(
            "admin.assign.done",
            "vi",
            name="Đỗ Thị F",
            person=setup.outsider_id,
            units="Đảng bộ xã Đông (mã CS1)",
        )
    ]
    async with setup.db.read() as session:
        roles = (
            (await session.execute(select(Role).where(col(Role.person_id) == setup.outsider_id)))
            .scalars()
            .all()
        )
    assert {r.kind for r in roles} == {"reporter", "supervisor"}
    closed = await setup.driver.say("admin", "/dot dong 1")
    assert len(closed) == 1 and closed[0].startswith("Đã kết thúc đợt 13-KH/TU")
    async with setup.db.read() as session:
        assert (await session.execute(select(Campaign))).scalar_one().status == "closed"
    after = await setup.driver.say("supervisor", "/tonghop")
    assert after == [t("digest.brief.none", "vi")]


async def test_a_nudge_queues_one_outbox_row(setup: Setup) -> None:
    await setup.driver.say("supervisor", "/nhacnho CS1")
    again = await setup.driver.say("supervisor", "/nhacnho CS1")
    assert again == [t("nudge.already", "vi", unit="Đảng bộ xã Đông (mã CS1)")]
    async with setup.db.read() as session:
        rows = (await session.execute(select(Outbox))).scalars().all()
    assert [r.kind for r in rows] == ["nudge"] * len(rows) and rows


async def test_a_zalo_download_link_is_refused_for_anyone_else_forged_or_expired(
    db: Database,
) -> None:
    world, people = await _world(db)
    user = ZaloUser("zu-8700", "E")
    await bind_zalo(db, world.supervisor_id, user)
    stub = await ZaloStub.start()
    client = ZaloClient(TOKEN, stub.base_url)
    moment = [NOW]
    downloads = DownloadStore(None, kept(db, lambda: moment[0]), ttl=600)
    server = ZaloServer(path="/zalo", routes=[download_route("/zalo", downloads, "vi")])
    port = server.start("127.0.0.1", 0)
    downloads.public_base = f"http://127.0.0.1:{port}/zalo"
    adapter = ZaloAdapter(
        db=db,
        clock=lambda: NOW,
        settings=zalo_settings(zalo_api_url=stub.base_url),
        client=client,
        downloads=downloads,
    )
    try:
        await adapter.process(ZaloUpdates(NOW).text(user, "/xuat"))
        [text] = stub.texts(user.id)
        assert "bấm" not in text.lower() and "10 phút" in text
        [url] = re.findall(r"https?://\S+", text)
        base, query = url.split("?")
        params = dict(p.split("=") for p in query.split("&"))
        other = await downloads.publish(
            b"x", filename="b.xlsx", person_id=people["admin"], content_type="x"
        )
        forged = {
            "another person": f"{base}?p={people['admin']}&e={params['e']}&s={params['s']}",
            "a later expiry": f"{base}?p={params['p']}&e={int(params['e']) + 600}&s={params['s']}",
            "a made-up signature": f"{base}?p={params['p']}&e={params['e']}&s={'0' * 40}",
            "another file's signature": f"{base}?{other.split('?')[1]}",
            "no signature": base,
        }
        async with httpx.AsyncClient(timeout=120.0) as http:
            ok = await http.get(url)
            assert ok.status_code == 200
            assert load_workbook(io.BytesIO(ok.content), read_only=True).sheetnames
            for why, link in forged.items():
                refused = await http.get(link)
                assert refused.status_code == 403, why
                assert t("zalo.download.refused", "vi") in refused.text, why
                assert refused.content != ok.content
            moment[0] += timedelta(seconds=601)  # past the expiry
            expired = await http.get(url)
            assert expired.status_code == 410
            assert t("zalo.download.expired", "vi") in expired.text
    finally:
        await server.stop()
        await client.aclose()
        await stub.stop()


async def test_a_digest_lost_with_a_kill_after_the_commit_comes_once_with_the_replay(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.core import turn as turn_module

    real = turn_module.deliver
    kills = [asyncio.CancelledError()]  # the process dies between the commit and the send

    async def killed(*args: Any, **kwargs: Any) -> None:
        if kills:
            raise kills.pop()
        await real(*args, **kwargs)

    monkeypatch.setattr(turn_module, "deliver", killed)
    update = setup.driver.update("supervisor", "/tonghop")
    before = setup.driver.photos()
    with pytest.raises(asyncio.CancelledError):
        await setup.driver.process("supervisor", update)
    assert setup.driver.photos() == before  # committed, nothing said yet

    texts = await setup.driver.process("supervisor", update)  # the platform delivers it again
    assert setup.driver.photos() == before + 1  # the job ran on the replay: chart and text
    assert "Bản tổng hợp tuần 39/2016" in "\n".join(texts)
    assert await setup.driver.process("supervisor", update) == []  # and only once
    assert setup.driver.photos() == before + 1
