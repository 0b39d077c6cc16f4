"""`cadrebot run`: a missing token is one Vietnamese line; secrets never reach the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.run import RedactSecrets, register


def test_missing_token_is_one_vietnamese_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CADREBOT_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps "run" a sub-command
        pass

    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 1
    assert "Chưa cấu hình mã bot Telegram" in result.output
    assert "Traceback" not in result.output


def test_log_records_are_scrubbed_of_secrets() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: POST %s",
        ("https://api.telegram.org/bot123:ABC/getUpdates",),
        None,
    )
    assert RedactSecrets(["123:ABC"]).filter(record)
    assert record.getMessage() == "HTTP Request: POST https://api.telegram.org/bot***/getUpdates"
