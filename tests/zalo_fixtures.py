"""A Zalo adapter wired to the local Zalo Bot API stub over HTTP, on the report-test world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from bot.zalo.adapter import ZaloAdapter
from bot.zalo.client import ZaloClient
from bot.zalo.kept import Kept
from storage.clock import Clock
from storage.db import Database
from storage.models import CHANNEL_ZALO
from storage.people import ChatAccount, bind_identity
from storage.settings import Settings
from tests.report_fixtures import NOW, World, build_world
from tests.zalo_stub import TOKEN, ZaloStub, ZaloUpdates, ZaloUser

REPORTER = ZaloUser("zu-8101", "Nguyễn Văn A")
STRANGER = ZaloUser("zu-9999", "Người lạ")


@dataclass
class Zalo:
    world: World
    stub: ZaloStub
    client: ZaloClient
    adapter: ZaloAdapter
    updates: ZaloUpdates
    settings: Settings

    async def send(self, user: ZaloUser, text: str) -> list[str]:
        """Type `text` as `user`; the messages the bot sent to that chat in answer."""
        return await self.process(user, self.updates.text(user, text))

    async def process(self, user: ZaloUser, update: dict[str, object]) -> list[str]:
        mark = len(self.stub.sent(user.id))
        await self.adapter.process(update)
        return self.stub.texts(user.id, since=mark)


def kept(db: Database, clock: Clock = lambda: NOW) -> Kept:
    """Where the Zalo server keeps charts and workbooks: `db`, a fixed key, `clock`."""
    return Kept(db, b"zalo link key of the tests", clock)


def zalo_settings(**more: object) -> Settings:
    return Settings(_env_file=None, **{"zalo_token": TOKEN, **more})  # type: ignore[arg-type]


async def bind_zalo(db: Database, person_id: int, user: ZaloUser, now: datetime = NOW) -> None:
    async with db.write() as session:
        await bind_identity(
            session=session,
            person_id=person_id,
            account=ChatAccount(CHANNEL_ZALO, user.id, user.id),
            now=now,
        )


@asynccontextmanager
async def open_zalo(db: Database) -> AsyncIterator[Zalo]:
    """The world, the stub and an adapter; each test file's `zalo` fixture enters this."""
    world = await build_world(db)
    stub = await ZaloStub.start()
    settings = zalo_settings(zalo_api_url=stub.base_url)
    client = ZaloClient(TOKEN, stub.base_url)
    adapter = ZaloAdapter(db=db, clock=lambda: NOW, settings=settings, client=client)
    yield Zalo(world, stub, client, adapter, ZaloUpdates(NOW), settings)
    await client.aclose()
    await stub.stop()
