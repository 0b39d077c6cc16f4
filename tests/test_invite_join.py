"""Joining that works on phones, on both channels: a 10-character code typed in lower case, with
spaces, or inside a sentence joins; a stranger's ordinary message is still refused; five wrong
codes lock the account for an hour; a reporter typing while known is never taken for a code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Database
from storage.i18n import t
from storage.invites import create_invite
from storage.models import ROLE_REPORTER
from tests.report_fixtures import NOW
from tests.telegram_harness import TelegramHarness, TgUser
from tests.zalo_fixtures import STRANGER, Zalo, open_zalo
from tests.zalo_stub import ZaloUser


async def new_code(db: Database, unit_id: int, name: str | None = None) -> str:
    async with db.write() as session:
        _invite, code = await create_invite(
            session=session,
            role_kind=ROLE_REPORTER,
            unit_id=unit_id,
            now=NOW,
            person_name=name,
        )
    return code


@pytest.fixture
async def zalo(db: Database) -> AsyncIterator[Zalo]:
    async with open_zalo(db) as opened:
        yield opened


async def test_zalo_code_inside_a_sentence_joins(zalo: Zalo) -> None:
    code = await new_code(zalo.world.db, zalo.world.other_unit_id, "Lê Văn Hải")
    first, second = code.lower().split("-")
    [welcome] = await zalo.send(STRANGER, f"Mã của em là {first} {second} ạ")
    assert welcome.startswith("Chào đồng chí Lê Văn Hải!")
    assert "Đảng bộ xã Tây" in (await zalo.send(STRANGER, "/baocao"))[0]


async def test_zalo_stranger_without_a_code_is_refused(zalo: Zalo) -> None:
    for text in ("Em tên Trang thanh, số 0912345678", "thanh trang chung"):
        [answer] = await zalo.send(STRANGER, text)
        assert answer.startswith("Xin lỗi, đồng chí chưa được cấp quyền"), text


async def test_zalo_five_wrong_codes_lock_the_account_for_an_hour(zalo: Zalo) -> None:
    good = await new_code(zalo.world.db, zalo.world.other_unit_id)
    guesser = ZaloUser("zu-6666", "Đoán")
    for wrong in ("BCFG2-HJKM3", "bcfg4 hjkm5", "Mã là BCFG6-HJKM7", "BCFG8HJKM9", "BCFG2-HJKM4"):
        [answer] = await zalo.send(guesser, wrong)
        assert "không có trong hệ thống" in answer, answer
    [locked] = await zalo.send(guesser, good)  # even the right code: not looked at
    assert locked == t("zalo.start.throttled", "vi")


@pytest.fixture
async def telegram(db: Database) -> AsyncIterator[tuple[TelegramHarness, Database, int]]:
    from tests.report_fixtures import build_world

    world = await build_world(db)
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    yield harness, db, world.other_unit_id
    await harness.stop()


@pytest.mark.parametrize(
    "shape", ["/start {a}-{b}", "/start {a} {b}", "/start {a}{b}", "Mã của em là {a} {b} ạ"]
)
async def test_telegram_code_typed_any_way_joins(
    telegram: tuple[TelegramHarness, Database, int], shape: str
) -> None:
    harness, db, unit_id = telegram
    code = await new_code(db, unit_id, "Nguyễn Thị Mai")
    first, second = code.lower().split("-")
    calls = await harness.send(shape.format(a=first, b=second), TgUser(8901, "Mai"))
    assert calls.texts()[0].startswith("Chào đồng chí Nguyễn Thị Mai!"), calls.texts()
