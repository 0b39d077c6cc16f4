"""Files kept for Zalo links (the digest chart, the /xuat workbook) live in the database: a link
one worker made is served by another worker on the same database (as behind a load balancer,
or after a restart), with the key both derive from the same settings; expired links are
refused there too; a chart sent to many supervisors is kept once; expired rows are pruned."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from bot.zalo.kept import Kept, link_key
from bot.zalo.media import MediaStore
from bot.zalo.run import ZaloService, build_zalo
from bot.zalo.webhook import ZaloServer, local_path
from storage.db import Database
from storage.i18n import t
from storage.kept_files import PRUNE_ON_WRITE, keep_file, kept_file, prune_kept_files
from storage.migrate import upgrade
from storage.models import KeptFile
from tests.factories import make_person, pk
from tests.report_fixtures import NOW
from tests.zalo_fixtures import kept, zalo_settings

CHART = b"\x89PNG\r\n\x1a\n the chart of week 39"
SETTINGS = zalo_settings(zalo_media_url="https://bot.example.vn")


async def rows(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(KeptFile))).scalar())


async def test_a_file_is_kept_until_its_expiry_then_pruned(db: Database) -> None:
    async with db.write() as session:
        person = pk(await make_person(session, "Phạm Văn E"))
        row = await keep_file(
            session=session,
            data=b"workbook",
            content_type="application/x",
            now=NOW,
            ttl=timedelta(minutes=30),
            filename="tong-hop.xlsx",
            person_id=person,
        )
    assert re.fullmatch(r"[0-9a-f]{24}", row.id)
    async with db.read() as session:
        found = await kept_file(session=session, ident=row.id, now=NOW + timedelta(minutes=29))
        assert found is not None and found.data == b"workbook" and found.person_id == person
        late = NOW + timedelta(minutes=30)
        assert await kept_file(session=session, ident=row.id, now=late) is None
    async with db.write() as session:
        assert await prune_kept_files(session=session, now=NOW + timedelta(minutes=29)) == 0
        assert await prune_kept_files(session=session, now=NOW + timedelta(minutes=30)) == 1
    assert await rows(db) == 0


async def test_a_write_prunes_a_bounded_number_of_expired_rows(db: Database) -> None:
    async with db.write() as session:
        for number in range(PRUNE_ON_WRITE + 5):
            await keep_file(
                session=session,
                data=b"old %d" % number,
                content_type="image/png",
                now=NOW,
                ttl=timedelta(minutes=15),
            )
    later = NOW + timedelta(hours=1)
    async with db.write() as session:
        await keep_file(
            session=session, data=b"new", content_type="image/png", now=later, ttl=timedelta(1)
        )
    assert await rows(db) == 5 + 1  # PRUNE_ON_WRITE of the expired ones went with the write
    async with db.write() as session:
        assert await prune_kept_files(session=session, now=later) == 5
    assert await rows(db) == 1


async def test_the_daily_housekeeping_deletes_the_expired_files(db: Database) -> None:
    from bot.runtime import prune_files_job

    async with db.write() as session:
        for data, ttl in ((b"chart", timedelta(minutes=15)), (b"later", timedelta(hours=2))):
            await keep_file(session=session, data=data, content_type="image/png", now=NOW, ttl=ttl)
    assert await prune_files_job(db, lambda: NOW + timedelta(hours=1)) == 1
    async with db.read() as session:
        assert [r.data for r in (await session.execute(select(KeptFile))).scalars()] == [b"later"]


async def test_a_chart_sent_to_many_supervisors_is_kept_once(db: Database) -> None:
    clock = [NOW]
    media = MediaStore("https://bot.example.vn/zalo", kept(db, lambda: clock[0]))
    first = await media.publish(CHART)
    clock[0] += timedelta(minutes=10)
    urls = [await media.publish(CHART) for _supervisor in range(20)]
    assert await rows(db) == 1 and set(urls) == {first}
    async with db.read() as session:
        row = (await session.execute(select(KeptFile))).scalar_one()
    assert row.expires_at == NOW + timedelta(minutes=10 + 15)  # the last send's expiry counts
    await media.publish(CHART + b" of week 40")  # another content: another file
    assert await rows(db) == 2


async def test_a_chart_link_ends_with_its_expiry_on_the_injected_clock(db: Database) -> None:
    clock = [NOW]
    media = MediaStore("https://bot.example.vn/zalo", kept(db, lambda: clock[0]))
    url = await media.publish(CHART)
    ident, token = re.findall(r"/media/([0-9a-f]{24})\?token=(\w+)$", url)[0]
    assert (found := await media.get(ident, token)) is not None and found.data == CHART
    forged = token[:-1] + ("1" if token.endswith("0") else "0")
    assert await media.get(ident, forged) is None
    clock[0] += timedelta(minutes=15)
    assert await media.get(ident, token) is None


def test_the_link_key_is_the_same_in_every_worker_and_prefers_the_link_secret() -> None:
    assert link_key(zalo_settings()) == link_key(zalo_settings())
    assert link_key(zalo_settings()) != link_key(zalo_settings(zalo_token="999:other-bot"))
    shared = zalo_settings(link_secret="a long random string shared by the workers")
    assert link_key(shared) != link_key(zalo_settings())
    assert link_key(shared) == link_key(
        zalo_settings(
            zalo_token="999:other-bot", link_secret="a long random string shared by the workers"
        )
    )


class Worker:
    """One `cadrebot run` worker's Zalo server: its own engine, stores and key."""

    def __init__(self, url: str, moment: list[datetime]) -> None:
        self.db = Database.from_url(url)
        self.service: ZaloService = build_zalo(SETTINGS, self.db, clock=lambda: moment[0])
        self.server = ZaloServer(
            path=local_path(SETTINGS),
            media=self.service.media,
            routes=self.service.routes(SETTINGS),
        )
        self.port = self.server.start("127.0.0.1", 0)

    def local(self, url: str) -> str:
        """`url` as the load balancer hands it to this worker."""
        return url.replace("https://bot.example.vn", f"http://127.0.0.1:{self.port}")

    async def stop(self) -> None:
        await self.server.stop()
        await self.service.aclose()
        await self.db.dispose()


@pytest.fixture
async def workers(database_url: str) -> AsyncIterator[tuple[Worker, Worker, list[datetime]]]:
    moment = [NOW]
    first, second = Worker(database_url, moment), Worker(database_url, moment)
    await upgrade(first.db.engine)
    try:
        yield first, second, moment
    finally:
        await first.stop()
        await second.stop()


async def test_a_link_made_by_one_worker_is_served_by_another(
    workers: tuple[Worker, Worker, list[datetime]],
) -> None:
    first, second, moment = workers
    async with first.db.write() as session:
        supervisor = pk(await make_person(session, "Phạm Văn E"))
        admin = pk(await make_person(session, "Ban Tuyên giáo"))
    chart = await first.service.media.publish(CHART)
    workbook = await first.service.downloads.publish(
        b"PK workbook", filename="tong-hop.xlsx", person_id=supervisor, content_type="x/xlsx"
    )
    other = await first.service.downloads.publish(
        b"PK other", filename="khac.xlsx", person_id=admin, content_type="x/xlsx"
    )
    await first.server.stop()  # the worker that made them is gone (restart, another machine)
    base, query = second.local(workbook).split("?")
    params = dict(part.split("=") for part in query.split("&"))
    async with httpx.AsyncClient(timeout=120.0) as http:
        served = await http.get(second.local(chart))
        assert served.status_code == 200 and served.content == CHART
        got = await http.get(second.local(workbook))
        assert got.status_code == 200 and got.content == b"PK workbook"
        assert "tong-hop.xlsx" in got.headers["Content-Disposition"]
        refused = {
            "another person": f"{base}?p={admin}&e={params['e']}&s={params['s']}",
            "another file's signature": f"{base}?{other.split('?')[1]}",
            "a later expiry": f"{base}?p={supervisor}&e={int(params['e']) + 60}&s={params['s']}",
        }
        for why, link in refused.items():
            answer = await http.get(link)
            assert answer.status_code == 403, why
            assert t("zalo.download.refused", "vi") in answer.text, why
        forged = second.local(chart).split("?")[0] + "?token=" + "0" * 40
        assert (await http.get(forged)).status_code == 404
        moment[0] += timedelta(minutes=31)  # both past their expiry
        assert (await http.get(second.local(chart))).status_code == 404
        expired = await http.get(second.local(workbook))
        assert expired.status_code == 410 and t("zalo.download.expired", "vi") in expired.text


async def test_a_worker_with_another_key_refuses_the_links(
    workers: tuple[Worker, Worker, list[datetime]],
) -> None:
    first, second, moment = workers
    stranger = MediaStore(
        "https://bot.example.vn/zalo", Kept(first.db, b"a key of one process", lambda: moment[0])
    )
    url = await stranger.publish(CHART)
    async with httpx.AsyncClient(timeout=120.0) as http:
        assert (await http.get(second.local(url))).status_code == 404


async def test_a_workbook_link_whose_send_failed_reaches_the_outbox_and_any_worker_serves_it(
    workers: tuple[Worker, Worker, list[datetime]],
) -> None:
    """/xuat on Zalo whose link message fails after the commit: the link goes to the outbox
    (its file kept in the database before the outbox write), and another worker serves it."""
    from bot.zalo.adapter import ZaloAdapter
    from bot.zalo.client import ZaloClient
    from storage.models import Outbox
    from tests.report_fixtures import build_world
    from tests.zalo_fixtures import bind_zalo
    from tests.zalo_stub import TOKEN, ZaloStub, ZaloUpdates, ZaloUser

    first, second, moment = workers
    world = await build_world(first.db)
    user = ZaloUser("zu-8800", "Phạm Văn E")
    await bind_zalo(first.db, world.supervisor_id, user)
    stub = await ZaloStub.start()
    client = ZaloClient(TOKEN, stub.base_url)
    adapter = ZaloAdapter(
        db=first.db,
        clock=lambda: moment[0],
        settings=zalo_settings(zalo_api_url=stub.base_url),
        client=client,
        downloads=first.service.downloads,
    )
    try:
        stub.fail_next("sendMessage", 502, "Bad Gateway")
        await adapter.process(ZaloUpdates(NOW).text(user, "/xuat"))
    finally:
        await client.aclose()
        await stub.stop()
    async with first.db.read() as session:
        [row] = (await session.execute(select(Outbox))).scalars().all()
    assert row.chat_id == user.id and row.kind == "reply"
    [url] = re.findall(r"https?://\S+", str(row.payload["text"]))
    async with httpx.AsyncClient(timeout=120.0) as http:
        served = await http.get(second.local(url))
    assert served.status_code == 200 and served.content.startswith(b"PK")  # the XLSX


async def test_a_forgotten_persons_kept_files_go_with_them(db: Database) -> None:
    from storage.forget import forget_person

    async with db.write() as session:
        person = pk(await make_person(session, "Phạm Văn E"))
        other = pk(await make_person(session, "Ban Tuyên giáo"))
        for owner in (person, other):
            await keep_file(
                session=session, data=b"PK workbook naming them", content_type="x/xlsx",
                now=NOW, ttl=timedelta(minutes=30), person_id=owner,
            )  # fmt: skip
    async with db.write() as session:
        await forget_person(session=session, person_id=person, now=NOW)
    async with db.read() as session:
        owners = (await session.execute(select(KeptFile.person_id))).scalars().all()
    assert owners == [other]
