"""Zalo secrets stay out of logs and exceptions: a media link's token is never in the access
log; a token echoed lower-case by an API error is redacted (client and log filter); a malformed
update (`"message": 5`) is one log line, not a traceback."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.cli.run import RedactSecrets, carries_secret
from bot.zalo.client import ZaloClient
from bot.zalo.media import MediaStore
from bot.zalo.webhook import ZaloServer
from scheduler.channels import TransientError
from storage.db import Database
from storage.i18n import t
from tests.zalo_fixtures import kept, open_zalo

TOKEN = "1234567890:AbCdEfGhIjKlMnOpQrStUvWxYz"


async def test_media_tokens_are_not_in_the_access_log(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    media = MediaStore(None, kept(db))
    server = ZaloServer(path="/zalo", media=media)
    port = server.start("127.0.0.1", 0)
    media.public_base = f"http://127.0.0.1:{port}/zalo"
    try:
        url = await media.publish(b"\x89PNG chart")
        token = url.split("token=")[1]
        with caplog.at_level(logging.DEBUG):
            async with httpx.AsyncClient(timeout=120.0) as http:
                assert (await http.get(url)).status_code == 200
                assert (await http.get(url.replace(token, "guess"))).status_code == 404
    finally:
        await server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("tornado")]
    assert any("/zalo/media/" in line for line in lines)
    assert not any(token in line or "token=" in line for line in lines)


async def test_a_token_echoed_lower_case_in_an_api_error_is_redacted() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        echoed = f"invalid access token {TOKEN.lower()} for {TOKEN.upper()}"
        return httpx.Response(400, json={"ok": False, "error_code": 400, "description": echoed})

    client = ZaloClient(TOKEN, "https://zalo.test/bot", transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(TransientError) as caught:
            await client.send_message("u1", "Kính gửi đồng chí")
    finally:
        await client.aclose()
    text = f"{caught.value!s} {caught.value!r}".casefold()
    assert TOKEN.casefold() not in text and "***" in text


def test_the_log_filter_redacts_in_any_letter_case() -> None:
    record = logging.LogRecord(
        "bot", logging.ERROR, __file__, 1, "api said %s", (f"bad {TOKEN.lower()}",), None
    )
    RedactSecrets([TOKEN]).filter(record)
    assert TOKEN.casefold() not in record.getMessage().casefold()
    assert carries_secret(ValueError(TOKEN.upper()), [TOKEN])


@pytest.mark.parametrize(
    "update",
    [
        {"event_name": "message.text.received", "message": 5},
        {"result": {"event_name": "message.text.received", "message": 5}},
        {"event_name": "message.text.received", "message": {"from": 5, "chat": "x", "text": 7}},
        [1, 2],
        "message",
        None,
    ],
)
async def test_a_malformed_update_is_one_line_not_a_traceback(
    db: Database, update: object, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_zalo(db) as zalo:
        with caplog.at_level(logging.INFO):
            await zalo.adapter.process(update)
        assert zalo.stub.sent() == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("field", ["text", "message_id", "from_id", "name"])
async def test_a_nul_byte_in_a_zalo_update_is_never_a_database_error(
    db: Database, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL cannot store a NUL: forged ids are ignored, names and texts are cleaned."""
    from tests.zalo_fixtures import REPORTER, bind_zalo

    async with open_zalo(db) as zalo:
        await bind_zalo(db, zalo.world.reporter_id, REPORTER)
        update = zalo.updates.text(REPORTER, "/tinhtrang")
        message = update["message"] if "message" in update else update["result"]["message"]
        if field == "text":
            message["text"] = "/tinh\x00trang"
        elif field == "message_id":
            message["message_id"] = "m\x00x"
        elif field == "from_id":
            message["from"]["id"] = "zu\x008101"
        else:
            message["from"]["display_name"] = "A\x00B"
        with caplog.at_level(logging.INFO):
            await zalo.adapter.process(update)
        answered = zalo.stub.texts(REPORTER.id)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    if field in {"text", "name"}:
        assert answered and answered[0] != t("zalo.error")
