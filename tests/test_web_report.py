"""The desk's report page over HTTP: an admin sees the report paragraph of their own units and
downloads it as the Party document; a unit outside their subtree, a supervisor and a signed-out
visitor are refused on the server."""

from __future__ import annotations

import html
import re
from io import BytesIO

import httpx
from docx import Document

from storage.models import ROLE_ADMIN, Unit
from tests.factories import make_person, pk
from tests.test_web_pages import client, web
from tests.web_fixtures import WebWorld, sign_in

__all__ = ["client", "web"]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def _cs1_admin(web: WebWorld) -> int:
    async with web.db.write() as session:
        cs1 = await session.get(Unit, web.world.unit_id)
        return pk(await make_person(session, "Đinh Văn Xã", roles=[(ROLE_ADMIN, cs1)]))


def _paragraphs(page: str) -> list[str]:
    section = re.search(r'<section class="card" id="report-text">(.*?)</section>', page, re.S)
    assert section is not None, page[:800]
    return [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", section[1], re.S)]


def _document_paragraphs(body: bytes) -> list[str]:
    texts = [p.text for p in Document(BytesIO(body)).paragraphs if p.text]
    assert texts[0] == "BÁO CÁO"
    return texts[3:]  # after the title, the subject line and its rule


async def test_an_admin_reads_the_paragraph_and_downloads_the_same_as_a_document(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, web.admin_id)
    desk = await client.get("/desk")
    assert 'href="/desk/report"' in desk.text
    page = await client.get("/desk/report")
    assert page.status_code == 200
    paragraphs = _paragraphs(page.text)
    assert paragraphs[0].startswith(
        "Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy đến ngày"
    )
    assert "Phạm vi: toàn bộ các đơn vị" in page.text
    link = re.search(r'id="report-docx" href="([^"]+)"', page.text)
    assert link is not None
    download = await client.get(html.unescape(link[1]))
    assert download.status_code == 200
    assert download.headers["content-type"] == DOCX
    assert download.headers["content-disposition"].startswith('attachment; filename="bao-cao_')
    assert _document_paragraphs(download.content) == paragraphs


async def test_a_subtree_admin_gets_only_their_subtree_and_nothing_outside(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, await _cs1_admin(web))
    mine = _paragraphs((await client.get("/desk/report")).text)
    # CS1 alone: its one unit and its 30 members, not the whole province.
    assert "(1/1 đơn vị)" in mine[0] and "(25/30 đồng chí)" in mine[0], mine[0]
    own = await client.get(f"/desk/report.docx?unit={web.world.unit_id}")
    assert own.status_code == 200
    assert _document_paragraphs(own.content) == mine
    outside = (web.world.other_unit_id, web.world.province_id, "abc", "99999")
    for unit in outside:
        for path in ("/desk/report", "/desk/report.docx"):
            response = await client.get(f"{path}?unit={unit}")
            assert response.status_code == 404, (path, unit)
            assert response.headers["content-type"].startswith("text/html")


async def test_not_for_supervisors_nor_signed_out_visitors(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    for path in ("/desk/report", "/desk/report.docx"):
        assert (await client.get(path)).status_code == 401
    await sign_in(client, web, web.world.supervisor_id)
    for path in ("/desk/report", "/desk/report.docx", f"/desk/report?unit={web.world.unit_id}"):
        response = await client.get(path)
        assert response.status_code == 404 and "Theo số liệu" not in response.text


async def test_an_admins_unit_page_links_to_that_units_report(
    web: WebWorld, client: httpx.AsyncClient
) -> None:
    await sign_in(client, web, await _cs1_admin(web))
    unit_page = await client.get(f"/unit/{web.world.unit_id}")
    link = re.search(r'id="unit-report" href="([^"]+)"', unit_page.text)
    assert link is not None, unit_page.text[:800]
    report = await client.get(html.unescape(link[1]))
    assert report.status_code == 200 and "Phạm vi: Đảng bộ xã Đông" in report.text
    assert "(25/30 đồng chí)" in _paragraphs(report.text)[0]
    # A supervisor's unit page has no such link (the report page is the admins').
    await sign_in(client, web, web.world.supervisor_id)
    theirs = await client.get(f"/unit/{web.world.unit_id}")
    assert theirs.status_code == 200 and "Tải bảng tổng hợp" in theirs.text
    assert 'id="unit-report"' not in theirs.text
