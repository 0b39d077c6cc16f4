"""Zalo settings: defaults, the secret's length, and a token that never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.settings import SettingsError, load_settings


def test_zalo_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.zalo_token is None
    assert settings.zalo_api_url == "https://bot-api.zapps.me/bot"
    assert settings.zalo_max_message == 2000


@pytest.mark.parametrize("value", ["short", "x" * 257])
def test_webhook_secret_must_be_8_to_256_characters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADREBOT_ZALO_WEBHOOK_SECRET", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value).startswith("CADREBOT_ZALO_WEBHOOK_SECRET:")
    assert value not in str(info.value) and "\n" not in str(info.value)


def test_zalo_token_is_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADREBOT_ZALO_TOKEN", "1234:zalo-secret-token")
    settings = load_settings()
    assert settings.zalo_token is not None
    assert "zalo-secret-token" not in repr(settings)
