"""Logs carry ids, never what people typed nor the secrets: a whole report conversation (with a
distinctive presenter name, a typed-in refusal and a failing handler) through the real
Application, logged at DEBUG through the production logging set-up (`configure_logging`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.cli.run import RedactSecrets, carries_secret, configure_logging
from bot.core.commands import reporting
from storage.db import Database
from storage.settings import Settings
from tests.report_fixtures import NOW, World, build_world
from tests.telegram_harness import Calls, TelegramHarness, TgUser, bind

TOKEN = "7351146702:AAF-privacy-test-token-Zq9"
WEBHOOK_SECRET = "webhook-secret-Lm4kQ"
PRESENTER = "Đ/c Tạ Thị Bí Ẩn Xyzzy"
CHATTER = "Tin nhắn riêng tư số Quux 42"
REPORTER = TgUser(8701, "Quỳnh")
STRANGER = TgUser(8702, "Lạ")


@dataclass
class Setup:
    world: World
    harness: TelegramHarness


@pytest.fixture
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """DEBUG everywhere, with the filters `cadrebot run` installs on the root handlers."""
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    before = {handler: list(handler.filters) for handler in root.handlers}
    levels = {name: logging.getLogger(name).level for name in CHATTY}
    configure_logging(
        Settings(
            telegram_token=SecretStr(TOKEN),
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            log_level="DEBUG",
            _env_file=None,
        )
    )
    caplog.set_level(logging.DEBUG)
    yield caplog
    for handler in root.handlers:
        handler.filters = before.get(handler, [])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def setup(db: Database, production_logging: pytest.LogCaptureFixture) -> AsyncIterator[Setup]:
    world = await build_world(db)
    await bind(db, world.reporter_id, REPORTER)
    settings = Settings(
        telegram_token=SecretStr(TOKEN), webhook_secret=SecretStr(WEBHOOK_SECRET), _env_file=None
    )
    harness = await TelegramHarness.start(db=db, clock=lambda: NOW, settings=settings)
    yield Setup(world, harness)
    await harness.stop()


def button(calls: Calls, label_part: str) -> str:
    for b in calls.buttons():
        if label_part in b["text"]:
            return str(b["callback_data"])
    raise AssertionError(f"no button {label_part!r} in {calls.buttons()}")


OWN_LOGGERS = ("bot", "storage", "scheduler")
# Third-party loggers that print request parameters at DEBUG: aiosqlite the SQL parameters
# (answers, names), python-telegram-bot every Bot API call's parameters (the replies' text).
CHATTY = ("aiosqlite", "telegram", "httpx", "httpcore", "sqlalchemy", "asyncpg")


async def converse(h: TelegramHarness) -> None:
    """A whole report with a distinctive presenter name, then a stranger typing chatter, a
    chatter "code" and a replayed update."""
    calls = await h.send("/baocao", REPORTER)
    calls = await h.press(button(calls, "Hội nghị học tập"), REPORTER)
    for kind, value in (
        ("send", "28/8"),
        ("send", "2"),
        ("press", "30 (theo danh sách)"),
        ("send", "28 đồng chí"),
        ("press", "Bỏ qua"),
        ("send", PRESENTER),
        ("press", "Bỏ qua"),
        ("send", "27"),
    ):
        if kind == "send":
            calls = await h.send(value, REPORTER)
        else:
            calls = await h.press(button(calls, value), REPORTER)
    assert PRESENTER in calls.text()  # the summary shows it: the text did go through the bot
    receipt = await h.press(button(calls, "Xác nhận"), REPORTER)
    assert "Đã ghi nhận" in receipt.text()
    await h.send(CHATTER, STRANGER)
    await h.send(f"/start {CHATTER}", STRANGER)
    update = h.updates.text(CHATTER, REPORTER)
    await h.process(update)
    await h.process(update)  # replayed


def private(message: str) -> list[str]:
    found = [s for s in (TOKEN, WEBHOOK_SECRET) if s in message]
    return found + [s for s in (PRESENTER, "Xyzzy", CHATTER, "Quux") if s in message]


async def test_a_conversation_logs_ids_but_no_text_and_no_secret(
    setup: Setup, production_logging: pytest.LogCaptureFixture
) -> None:
    # As if an operator turned the libraries' DEBUG loggers up by hand (sqlalchemy's and
    # httpx's INFO records are the statements and URLs themselves): plenty of records, and
    # still no secret in any of them, and no typed text in ours nor in any INFO+ record.
    for name in set(CHATTY) - {"sqlalchemy", "httpx"}:
        logging.getLogger(name).setLevel(logging.DEBUG)
    await converse(setup.harness)

    records = production_logging.records
    library_debug = [
        r for r in records if r.levelno == logging.DEBUG and r.name.startswith("telegram")
    ]
    # Every Bot API call is logged at DEBUG with its parameters: enough to prove something.
    assert len(library_debug) > 20, "hardly anything was logged at DEBUG: the test proves nothing"
    for record in records:
        message = record.getMessage()
        assert TOKEN not in message and WEBHOOK_SECRET not in message, record.name
        if record.levelno >= logging.INFO or record.name.split(".")[0] in OWN_LOGGERS:
            assert not private(message), f"{record.name}: {message[:200]}"
    replayed = [r.getMessage() for r in records if "replayed" in r.getMessage()]
    assert replayed and all(m.startswith("update ") for m in replayed)  # an id, nothing else


async def test_at_debug_level_no_library_logs_what_people_typed(
    setup: Setup, production_logging: pytest.LogCaptureFixture
) -> None:
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    await converse(setup.harness)
    leaks = [
        f"{r.name}: {private(r.getMessage())}"
        for r in production_logging.records
        if private(r.getMessage())
    ]
    assert not leaks, leaks[:5]


async def test_a_failing_handler_logs_ids_and_the_exception_type_only(
    setup: Setup, production_logging: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(turn: object) -> object:
        raise ValueError(f"boom {CHATTER} {TOKEN}")

    monkeypatch.setattr(reporting, "_handle", lambda turn, inp: broken(turn))
    await setup.harness.send("/baocao", REPORTER)
    calls = await setup.harness.send(CHATTER, REPORTER)
    assert calls.texts()  # an apology, not silence

    errors = [r for r in production_logging.records if r.levelno >= logging.ERROR]
    assert errors
    text = "\n".join(r.getMessage() for r in production_logging.records)
    assert "ValueError" in text and f"from user {REPORTER.id}" in text  # ids and the type
    assert CHATTER not in text and "Quux" not in text and TOKEN not in text


def test_a_traceback_in_a_log_record_is_scrubbed_of_the_secrets() -> None:
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        record = logging.LogRecord(
            "bot.runtime", logging.ERROR, __file__, 1, "sender failed", None, sys.exc_info()
        )
    assert RedactSecrets([TOKEN, WEBHOOK_SECRET]).filter(record)
    text = logging.Formatter().format(record)
    assert "RuntimeError: The token `***` was rejected" in text
    assert TOKEN not in text


def test_an_error_chained_to_one_that_names_a_secret_carries_it() -> None:
    try:
        try:
            raise ValueError(f"bad url https://api.example/bot{TOKEN}/getMe")
        except ValueError as inner:
            raise ConnectionError("start-up failed") from inner
    except ConnectionError as outer:
        assert carries_secret(outer, [TOKEN])
        assert not carries_secret(outer, [WEBHOOK_SECRET])
