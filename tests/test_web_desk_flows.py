"""The web console's flows end to end (#16.2, #16.3): a good paper-report file uploaded at the
desk is stored (the reports counted, not only the page read); "nhắc đơn vị này" queues a nudge
that the sender delivers to the reporter's chat, and says so plainly, with whom to call, when
nobody of the unit can be reached in chat. Both engines (the `db` fixture)."""

from __future__ import annotations

import html
import io
import random
import re

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlmodel import col

from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from storage.i18n import t
from storage.models import Outbox, Report, ReportVersion
from storage.reports import current_version
from tests.review_fixtures import require_review
from tests.sched_fixtures import FakeChannel, FakeClock, JumpTime
from tests.test_web_pages import client, web
from tests.web_fixtures import WebWorld, sign_in

__all__ = ["client", "web"]


async def _reports(web: WebWorld) -> list[tuple[int, int, int | None]]:
    """(unit id, version, essays) of every stored report version."""
    async with web.db.read() as session:
        rows = await session.execute(
            select(col(Report.unit_id), col(ReportVersion.version), col(ReportVersion.essays))
            .join(Report, col(Report.id) == col(ReportVersion.report_id))
            .order_by(col(Report.unit_id), col(ReportVersion.version))
        )
        return [(int(u), int(v), e) for u, v, e in rows.all()]


PAPER = (
    "deliverable,Mã đơn vị,session_date,duration_halfdays,members,attended,essays\n"
    "hoi_nghi,CS2,20/9/2016,2,12,11,10\n"
)


async def test_a_good_paper_report_file_is_stored(web: WebWorld, client: httpx.AsyncClient) -> None:
    world = web.world
    csrf = await sign_in(client, web, web.admin_id)
    before = await _reports(web)
    assert [r for r in before if r[0] == world.other_unit_id] == []
    spoiled = await client.post(
        "/desk/upload/reports",
        data={"csrf": csrf, "campaign": str(world.campaign_id)},
        files={"file": ("giay.csv", PAPER.replace(",11,10", ",13,10").encode())},
    )
    assert spoiled.status_code == 422 and await _reports(web) == before
    good = await client.post(
        "/desk/upload/reports",
        data={"csrf": csrf, "campaign": str(world.campaign_id)},
        files={"file": ("giay.csv", PAPER.encode())},
    )
    assert good.status_code == 200, good.text
    assert 'id="summary"' in good.text
    assert "Thêm mới 1 báo cáo, cập nhật 0, không đổi 0." in good.text
    assert await _reports(web) == sorted([*before, (world.other_unit_id, 1, 10)])


async def _outbox(web: WebWorld) -> list[Outbox]:
    async with web.db.read() as session:
        return list((await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars())


async def test_nudge_reaches_the_reporter_chat(web: WebWorld, client: httpx.AsyncClient) -> None:
    world = web.world
    csrf = await sign_in(client, web, world.supervisor_id)
    sent = await client.post(f"/unit/{world.unit_id}/nudge", data={"csrf": csrf})
    assert sent.status_code == 303 and "nudge=queued" in sent.headers["location"]
    page = await client.get(sent.headers["location"])
    assert "Đã gửi lời nhắc tới bí thư của đơn vị." in page.text
    # The unit's other reporters have no chat account: the page says whom to call.
    assert "cần gọi trực tiếp" in page.text and 'href="tel:0987654321"' in page.text
    rows = [r for r in await _outbox(web) if r.kind == "nudge"]
    assert world.reporter_id in {r.person_id for r in rows}
    # The sender delivers it to the reporter's Zalo chat.
    due = max(r.not_before for r in rows)
    channel, jump = FakeChannel(name="zalo"), JumpTime()
    limiter = RateLimiter(rate=25, clock=jump, sleep=jump.sleep)
    sender = Sender(web.db, [channel], limiter, clock=FakeClock(due), rng=random.Random(7))
    await sender.drain_once(due)
    [text] = channel.texts_to("zalo-a")
    assert "Phạm Văn E" in text  # who nudged
    again = await client.post(f"/unit/{world.unit_id}/nudge", data={"csrf": csrf})
    assert "nudge=already_today" in again.headers["location"]


async def test_nudge_says_so_when_no_reporter_has_a_chat_account(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    world = web.world
    csrf = await sign_in(client, web, world.supervisor_id)
    answer = await client.post(f"/unit/{world.other_unit_id}/nudge", data={"csrf": csrf})
    assert "nudge=not_connected" in answer.headers["location"]
    page = await client.get(answer.headers["location"])
    assert "Chưa gửi được lời nhắc" in page.text and "Đã gửi" not in page.text
    assert "Trần Văn D" in page.text and 'href="tel:0987654321"' in page.text
    async with web.db.read() as session:
        count = (await session.execute(select(func.count()).select_from(Outbox))).scalar_one()
    assert count == 0


ALL = "Số liệu tính trên tất cả các báo cáo đã gửi (kể cả báo cáo chưa được duyệt)."
APPROVED_ONLY = "Số liệu chỉ tính các báo cáo đã được duyệt."


async def test_the_dashboard_says_which_reports_its_figures_count(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    world = web.world
    await require_review(web.db, world.campaign_id)
    csrf = await sign_in(client, web, web.admin_id)
    home = await client.get("/")
    assert ALL in home.text and "1/2 đơn vị đã báo cáo" in home.text
    assert f'href="/?c={world.campaign_id}&amp;approved=1"' in home.text
    approved = await client.get(f"/?c={world.campaign_id}&approved=1")
    assert APPROVED_ONLY in approved.text and ALL not in approved.text
    assert "0/2 đơn vị đã báo cáo" in approved.text  # CS1's report still waits for review
    unit = await client.get(f"/unit/{world.unit_id}?c={world.campaign_id}&approved=1")
    assert APPROVED_ONLY in unit.text
    async with web.db.read() as session:
        version = await current_version(session=session, report_id=web.report_id)
        assert version is not None
    done = await client.post(
        f"/review/{web.report_id}/approve", data={"csrf": csrf, "version": str(version.id)}
    )
    assert done.status_code == 303
    approved = await client.get(f"/?c={world.campaign_id}&approved=1")
    assert "1/2 đơn vị đã báo cáo" in approved.text


def _export_link(page: str) -> str:
    match = re.search(r'href="(/export\?[^"]+)"', page)
    assert match is not None, page[:500]
    return html.unescape(match[1])


def _summary(workbook: bytes) -> list[tuple[object, ...]]:
    book = load_workbook(io.BytesIO(workbook), read_only=True)
    rows = list(book[t("export.sheet.summary", "vi")].iter_rows(values_only=True))
    book.close()
    return rows


def _reported(rows: list[tuple[object, ...]]) -> object:
    """The total row's reported units (the column after the expected ones)."""
    [total] = [row for row in rows if row and row[0] == t("export.summary.total", "vi")]
    return total[2]


async def test_the_workbook_download_keeps_the_dashboard_basis(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    world = web.world
    await require_review(web.db, world.campaign_id)
    await sign_in(client, web, web.admin_id)
    pages = {
        "all": await client.get(f"/?c={world.campaign_id}"),
        "approved": await client.get(f"/?c={world.campaign_id}&approved=1"),
        "unit approved": await client.get(
            f"/unit/{world.unit_id}?c={world.campaign_id}&approved=1"
        ),
    }
    assert ALL in pages["all"].text and APPROVED_ONLY not in pages["all"].text
    assert APPROVED_ONLY in pages["approved"].text and ALL not in pages["approved"].text
    links = {name: _export_link(page.text) for name, page in pages.items()}
    assert "approved" not in links["all"]
    assert links["approved"].endswith("&approved=1")
    assert links["unit approved"] == (
        f"/export?c={world.campaign_id}&unit={world.unit_id}&approved=1"
    )
    books = {name: await client.get(link) for name, link in links.items()}
    assert all(book.status_code == 200 for book in books.values())
    every, approved = _summary(books["all"].content), _summary(books["approved"].content)
    assert (ALL,) in every and (APPROVED_ONLY,) not in every
    assert (APPROVED_ONLY,) in approved and (ALL,) not in approved
    assert (APPROVED_ONLY,) in _summary(books["unit approved"].content)
    # CS1's report waits for review: counted on the first basis only, as on the dashboard.
    assert (_reported(every), _reported(approved)) == (1, 0)
    # The basis does not widen the scope: CS1 stays out of reach of CS2's supervisor.
    await sign_in(client, web, web.other_supervisor_id)
    refused = await client.get(links["unit approved"])
    assert refused.status_code == 404 and refused.content[:2] != b"PK"
