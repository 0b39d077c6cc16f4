"""A photo sent in chat becomes evidence of the reporter's report after the commit, on both
channels: a Zalo image (`photo_url`, fetched over https) and a Telegram photo or document
(getFile and the file URL of the local Bot API). Once only (a replay or the same photo again
attaches nothing), shown in /donvi, readable inside the scope only. Too large, wrongly typed or
undownloadable files get a Vietnamese answer and change nothing. A photo sent during the form
(/baocao, /capnhat) is held and attached once the report is confirmed; a cancelled form attaches
nothing; every receipt says the minutes' photo may be sent now."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core import media
from storage.access import scope_of
from storage.evidence import evidence_file
from storage.i18n import t
from storage.models import DraftEvidence, Evidence
from tests.review_fixtures import evidence_by_unit, session_report
from tests.test_channel_scenarios import Setup, TelegramDriver, setup

__all__ = ["setup"]

JPEG = b"\xff\xd8\xff\xe0" + b"anh bien ban hoi nghi" * 20
PDF = b"%PDF-1.4 chuong trinh hanh dong 05-CTr/DU"
MB = 1024 * 1024


def platform_serves(setup: Setup, monkeypatch: pytest.MonkeyPatch, data: bytes) -> list[str]:
    """The bytes behind the image the driver's updates send; the list of downloads made."""
    if isinstance(setup.driver, TelegramDriver):
        request = setup.driver.request
        request.serve("photo-1", data)
        request.serve("doc-1", data)
        return request.downloads
    fetched: list[str] = []

    async def fake_fetch(url: str, limit: int) -> bytes:
        fetched.append(url)
        return data

    monkeypatch.setattr(media, "fetch_https", fake_fetch)
    return fetched


async def evidence_rows(setup: Setup) -> int:
    async with setup.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(Evidence))).scalar_one())


async def test_an_image_becomes_evidence_of_the_report(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the default evidence folder is relative: keep it in tmp
    fetched = platform_serves(setup, monkeypatch, JPEG)
    driver = setup.driver
    user = driver.users["reporter"]

    before = await driver.process("reporter", driver.updates.image(user))
    assert before == [t("evidence.no_report", "vi")]
    assert fetched == []

    number = await session_report(setup.db, setup.world)
    image = driver.updates.image(user)
    said = await driver.process("reporter", image)
    assert said == [t("evidence.attached", "vi", number=number, count=1)]
    assert len(fetched) == 1
    assert await driver.process("reporter", image) == []  # a replay: nothing again
    again = await driver.process("reporter", driver.updates.image(user))
    assert again == [t("evidence.already", "vi", number=number, count=1)]

    view = "\n".join(await driver.say("supervisor", "/donvi CS1"))
    assert "Minh chứng: 1 tệp" in view
    workbook = await driver.workbook(await driver.say("supervisor", "/xuat"))
    counted = evidence_by_unit(workbook)
    assert 1 in counted["CS1"].values() and 1 not in counted["CS2"].values()

    async with setup.db.read() as session:
        [row] = (await session.execute(select(Evidence))).scalars().all()
        assert row.report_id == number and row.channel == driver.channel
        supervisor = await scope_of(session=session, person_id=setup.world.supervisor_id)
        outsider = await scope_of(session=session, person_id=setup.outsider_id)
        folder = tmp_path / "evidence"
        found = await evidence_file(
            session=session, folder=folder, scope=supervisor, evidence_id=row.id or 0
        )
        assert found is not None and found[1].read_bytes() == JPEG
        refused = await evidence_file(
            session=session, folder=folder, scope=outsider, evidence_id=row.id or 0
        )
        assert refused is None


async def test_a_stranger_image_is_refused_and_not_fetched(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = platform_serves(setup, monkeypatch, JPEG)
    driver = setup.driver
    said = await driver.process("stranger", driver.updates.image(driver.users["stranger"]))
    assert said and "Đảng bộ" not in said[0]
    assert fetched == []


FORM = ["20/8", "2", "30", "28", "5", "Đồng chí Nguyễn Văn B", "1", "20"]  # questions 1..8


async def held_rows(setup: Setup) -> int:
    async with setup.db.read() as session:
        rows = await session.execute(select(func.count()).select_from(DraftEvidence))
        return int(rows.scalar_one())


async def test_a_photo_sent_during_the_form_is_attached_once_confirmed(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    fetched = platform_serves(setup, monkeypatch, JPEG)
    driver = setup.driver
    user = driver.users["reporter"]
    await driver.say("reporter", "/baocao")
    await driver.say("reporter", "1")
    await driver.say("reporter", FORM[0])
    image = driver.updates.image(user)
    assert await driver.process("reporter", image) == [t("evidence.held", "vi", count=1)]
    assert await driver.process("reporter", image) == []  # a replay: nothing again
    again = await driver.process("reporter", driver.updates.image(user))
    assert again == [t("evidence.held_already", "vi", count=1)]
    assert len(fetched) == 2 and await held_rows(setup) == 1 and await evidence_rows(setup) == 0
    for answer in FORM[1:]:  # the photo did not move the form: question 2 comes next
        await driver.say("reporter", answer)
    [receipt] = await driver.say("reporter", "Xác nhận")
    async with setup.db.read() as session:
        [row] = (await session.execute(select(Evidence))).scalars().all()
    number = row.report_id
    assert receipt.startswith(f"Đã ghi nhận báo cáo số {number} ")
    assert t("evidence.receipt.attached", "vi", count=1, number=number) in receipt
    assert receipt.endswith(t("evidence.receipt.invite", "vi", number=number))
    assert row.channel == driver.channel and await held_rows(setup) == 0
    view = "\n".join(await driver.say("supervisor", "/donvi CS1"))
    assert "Minh chứng: 1 tệp" in view


async def test_a_cancelled_form_attaches_nothing_and_a_receipt_invites_the_minutes(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    platform_serves(setup, monkeypatch, JPEG)
    driver = setup.driver
    await driver.say("reporter", "/baocao")
    await driver.say("reporter", "1")
    await driver.process("reporter", driver.updates.image(driver.users["reporter"]))
    assert await held_rows(setup) == 1
    await driver.say("reporter", "/huy")
    assert await held_rows(setup) == 0 and await evidence_rows(setup) == 0

    await driver.say("reporter", "/baocao")
    await driver.say("reporter", "1")
    for answer in FORM:
        await driver.say("reporter", answer)
    [receipt] = await driver.say("reporter", "Xác nhận")
    assert "Đã đính kèm" not in receipt and "gửi ảnh biên bản ngay bây giờ" in receipt
    assert await evidence_rows(setup) == 0


async def test_a_photo_sent_during_capnhat_goes_to_the_report_being_changed(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    platform_serves(setup, monkeypatch, PDF)
    driver = setup.driver
    number = await session_report(setup.db, setup.world)
    await driver.say("reporter", "/capnhat")
    await driver.say("reporter", "so bai thu hoach da nop")
    user = driver.users["reporter"]
    scan = (
        driver.updates.document(user)
        if isinstance(driver, TelegramDriver)
        else driver.updates.image(user)
    )
    assert await driver.process("reporter", scan) == [t("evidence.held", "vi", count=1)]
    await driver.say("reporter", "25")
    [receipt] = await driver.say("reporter", "Xác nhận")
    assert t("evidence.receipt.attached", "vi", count=1, number=number) in receipt
    async with setup.db.read() as session:
        [row] = (await session.execute(select(Evidence))).scalars().all()
    assert row.report_id == number and row.content_type == "application/pdf"
