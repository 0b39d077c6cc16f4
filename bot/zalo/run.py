"""Start the Zalo channel: `build_zalo` makes the client, the media store and the outbox
`ZaloChannel` (give `service.channel` to the `Sender` beside Telegram's); `run_zalo` receives
updates until `stop_event` is set — webhook mode when CADREBOT_ZALO_WEBHOOK_URL is set (the
server, then setWebhook with CADREBOT_ZALO_WEBHOOK_SECRET), long polling otherwise (with the
media server too when CADREBOT_ZALO_MEDIA_URL is set, for the digest chart and the signed
/xuat download links)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot.conversation.engine import ConversationEngine
from bot.zalo.adapter import ZaloAdapter
from bot.zalo.channel import ZaloChannel
from bot.zalo.client import ZaloClient
from bot.zalo.downloads import DownloadStore, download_route
from bot.zalo.kept import Kept, link_key
from bot.zalo.media import MediaStore
from bot.zalo.polling import poll
from bot.zalo.webhook import ZaloServer, local_path, media_base, public_url
from storage.clock import Clock, system_clock
from storage.db import Database
from storage.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ZaloService:
    client: ZaloClient
    media: MediaStore
    channel: ZaloChannel
    downloads: DownloadStore

    def routes(self, settings: Settings) -> list[tuple[str, Any, dict[str, Any]]]:
        """The server's extra routes: the signed file downloads (`bot.zalo.downloads`)."""
        return [download_route(local_path(settings), self.downloads, settings.language)]

    async def aclose(self) -> None:
        await self.client.aclose()


def zalo_enabled(settings: Settings) -> bool:
    return settings.zalo_token is not None and bool(settings.zalo_token.get_secret_value())


def build_zalo(
    settings: Settings,
    db: Database,
    *,
    clock: Clock = system_clock,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ZaloService:
    """The chart and the workbooks are kept in `db` with links signed by `link_key(settings)`,
    so any worker on the database serves what another published."""
    if settings.zalo_token is None:
        raise ValueError("CADREBOT_ZALO_TOKEN is not set")
    client = ZaloClient(
        settings.zalo_token.get_secret_value(), settings.zalo_api_url, transport=transport
    )
    kept = Kept(db, link_key(settings), clock)
    media = MediaStore(media_base(settings), kept)
    channel = ZaloChannel(
        client,
        media=media,
        max_message=settings.zalo_max_message,
        rate=settings.zalo_send_rate,
        lang=settings.language,
    )
    downloads = DownloadStore(media_base(settings), kept)
    return ZaloService(client=client, media=media, channel=channel, downloads=downloads)


async def run_zalo(
    settings: Settings,
    db: Database,
    clock: Clock,
    stop_event: asyncio.Event,
    *,
    service: ZaloService | None = None,
    engine: ConversationEngine | None = None,
) -> None:
    """Answer Zalo users until `stop_event` is set. A `service` passed in (shared with the
    sender) is left open for the caller to close; one built here is closed here."""
    own = service is None
    zalo = service or build_zalo(settings, db, clock=clock)
    adapter = ZaloAdapter(
        db=db,
        clock=clock,
        settings=settings,
        client=zalo.client,
        engine=engine,
        sender=zalo.channel,
        downloads=zalo.downloads,
    )
    try:
        if settings.zalo_webhook_url:
            await _webhook(settings, zalo, adapter, stop_event)
        else:
            await _polling(settings, zalo, adapter, stop_event)
    finally:
        if own:
            await zalo.aclose()


async def _webhook(
    settings: Settings, zalo: ZaloService, adapter: ZaloAdapter, stop: asyncio.Event
) -> None:
    if settings.zalo_webhook_secret is None:
        raise ValueError("CADREBOT_ZALO_WEBHOOK_SECRET is required in Zalo webhook mode")
    secret = settings.zalo_webhook_secret.get_secret_value()
    server = ZaloServer(
        path=local_path(settings),
        media=zalo.media,
        processor=adapter,
        secret=secret,
        routes=zalo.routes(settings),
    )
    server.start(settings.zalo_listen, settings.zalo_port)
    try:
        await zalo.client.set_webhook(public_url(settings), secret)
        log.info("zalo webhook server on %s:%s", settings.zalo_listen, server.port)
        await stop.wait()
    finally:
        await server.stop()


async def _polling(
    settings: Settings, zalo: ZaloService, adapter: ZaloAdapter, stop: asyncio.Event
) -> None:
    server: ZaloServer | None = None
    if zalo.media.enabled:
        server = ZaloServer(
            path=local_path(settings), media=zalo.media, routes=zalo.routes(settings)
        )
        server.start(settings.zalo_listen, settings.zalo_port)
    try:
        await poll(zalo.client, adapter, stop)
    finally:
        if server is not None:
            await server.stop()
