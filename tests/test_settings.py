"""Settings: defaults, environment, and one-line errors that never echo a secret."""

from __future__ import annotations

import unicodedata

import pytest

from storage.settings import SettingsError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///cadrebot.db"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.language == "vi"
    assert settings.telegram_token is None


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CADREBOT_LANGUAGE=en\nCADREBOT_TIMEZONE=Asia/Bangkok\n")
    monkeypatch.setenv("CADREBOT_TIMEZONE", "UTC")
    settings = load_settings()
    assert settings.language == "en"
    assert settings.timezone == "UTC"  # the environment wins over .env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CADREBOT_TIMEZONE", "Mars/Olympus"),
        ("CADREBOT_LANGUAGE", "fr"),
        ("CADREBOT_DATABASE_URL", "mysql://x"),
        ("CADREBOT_WEBHOOK_PORT", "99999"),
        ("CADREBOT_WEBHOOK_SECRET", "has spaces and ü"),
    ],
)
def test_wrong_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path, variable: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(variable + ":")
    assert "\n" not in message
    assert value not in message


def test_token_never_printed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    token = "123456:SECRET-token-value"
    monkeypatch.setenv("CADREBOT_TELEGRAM_TOKEN", token)
    settings = load_settings()
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == token
    assert token not in repr(settings)
    assert token not in str(settings.model_dump())


def test_env_example_copied_as_is_is_valid(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The documented first step, `cp .env.example .env`, must start cleanly: empty values
    mean "not set"."""
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.telegram_token is None
    assert settings.webhook_secret is None
    assert settings.zalo_token is None
    assert settings.webhook_url is None


def test_organisation_settings_are_one_line_of_composed_text() -> None:
    decomposed = unicodedata.normalize("NFD", "Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam")
    settings = load_settings(_env_file=None, organisation_name=f"  {decomposed}\n ")
    assert settings.organisation_name == "Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam"
    assert load_settings(_env_file=None, organisation_place="   ").organisation_place is None
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, organisation_header="Ban\x00Tuyên giáo")
    assert (
        str(refused.value)
        == "CADREBOT_ORGANISATION_HEADER: must be plain text (no control characters)"
    )
