"""Names from chat apps in the Vietnamese order, and the greeting that uses them."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.invites import create_invite
from storage.models import ROLE_REPORTER
from storage.names import name_from_chat
from tests.report_fixtures import NOW, build_world
from tests.telegram_harness import TelegramHarness, TgUser


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [
        ("Hải", "Lê Văn", "Lê Văn Hải"),  # the phone's "first name" / "last name" fields
        ("Mai", "Nguyễn Thị", "Nguyễn Thị Mai"),
        ("Hoàng", "Trần Văn", "Trần Văn Hoàng"),  # a given name that is also a family name
        ("Lê Văn", "Hải", "Lê Văn Hải"),  # typed in order already
        ("Lê Văn Hải", None, "Lê Văn Hải"),
        (None, "Lê Văn Hải", "Lê Văn Hải"),
        ("John", "Smith", "John Smith"),  # not a Vietnamese family name: the app's order
        ("  Hải ", " Lê Văn ", "Lê Văn Hải"),
    ],
)
def test_name_from_chat(first: str | None, last: str | None, name: str) -> None:
    assert name_from_chat(first, last) == name


async def test_a_person_nobody_named_is_greeted_in_vietnamese_order(db: Database) -> None:
    world = await build_world(db)
    async with db.write() as session:
        _invite, code = await create_invite(
            session=session, role_kind=ROLE_REPORTER, unit_id=world.other_unit_id, now=NOW
        )
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW)
    try:
        calls = await harness.send(f"/start {code}", TgUser(8931, "Hải", "Lê Văn"))
    finally:
        await harness.stop()
    assert calls.texts()[0].startswith("Chào đồng chí Lê Văn Hải!")
