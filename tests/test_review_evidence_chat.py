"""A photo sent in chat becomes evidence of the reporter's report after the commit, on both
channels: a Zalo image (`photo_url`, fetched over https) and a Telegram photo or document
(getFile and the file URL of the local Bot API). Once only (a replay or the same photo again
attaches nothing), shown in /donvi, readable inside the scope only. Too large, wrongly typed or
undownloadable files get a Vietnamese answer and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.commands import evidence as evidence_command
from storage.access import scope_of
from storage.evidence import evidence_file
from storage.i18n import t
from storage.models import Evidence
from tests.review_fixtures import session_report
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

    monkeypatch.setattr(evidence_command, "fetch_media", fake_fetch)
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
