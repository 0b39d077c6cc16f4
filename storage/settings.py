"""Settings from environment variables and `.env` (pydantic-settings)."""

from __future__ import annotations

import hashlib
import unicodedata
import zoneinfo
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CADREBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `CADREBOT_X=` (as in .env.example) means "not set", not "set to the empty string".
        env_ignore_empty=True,
    )

    database_url: str = "sqlite+aiosqlite:///cadrebot.db"
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    language: Literal["vi", "en"] = "vi"
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "/telegram"
    webhook_secret: SecretStr | None = None
    invite_ttl_days: int = Field(default=14, ge=1, le=365)
    bot_username: str = "cadrebot"
    send_rate: float = Field(default=25.0, gt=0, le=1000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Seconds between a follower's attempts to become the scheduler leader (PostgreSQL advisory
    # lock) and between the leader's checks that it still holds it (scheduler/leader.py).
    leader_interval: float = Field(default=15.0, gt=0, le=300)
    # Telegram updates processed at once (bot/telegram/processor.py); one person's updates are
    # still processed one at a time, in order. 1: strictly one update after another.
    concurrent_updates: int = Field(default=16, ge=1, le=256)
    # Zalo Bot API (bot/zalo): polling unless zalo_webhook_url is set; the media route for the
    # digest chart (Zalo's sendPhoto takes a URL) is served by the same server.
    zalo_token: SecretStr | None = None
    zalo_api_url: str = "https://bot-api.zapps.me/bot"
    zalo_webhook_url: str | None = None
    zalo_webhook_secret: SecretStr | None = None
    zalo_media_url: str | None = None  # public origin of the Zalo server in polling mode
    zalo_listen: str = "0.0.0.0"
    zalo_port: int = Field(default=8444, ge=1, le=65535)
    zalo_webhook_path: str = "/zalo"
    zalo_send_rate: float = Field(default=10.0, gt=0, le=1000)
    zalo_max_message: int = Field(default=2000, ge=100, le=2000)
    # The web console (bot/web): its public origin as users reach it (behind the HTTPS reverse
    # proxy, e.g. https://baocao.example.vn; /web links are built from it; None: no web
    # console), and where its server listens.
    web_url: str | None = None
    web_listen: str = "127.0.0.1"
    web_port: int = Field(default=8445, ge=1, le=65535)
    # Evidence on reports (storage.evidence): the folder of the files (by content hash) and the
    # largest file kept, in megabytes.
    evidence_dir: str = "evidence"
    evidence_max_mb: int = Field(default=10, ge=1, le=50)
    # The organisation that runs the campaigns (storage.organisation): its name as written in a
    # sentence ("liên hệ Ban Tuyên giáo và Dân vận Tỉnh ủy ..."), and for the official documents
    # (.docx) the committee above it (the header's first line), its own name in the header, the
    # symbol after "-BC/" and the place before the date. Not set: the catalog's default.
    organisation_name: str | None = Field(default=None, max_length=200)
    organisation_parent: str | None = Field(default=None, max_length=200)
    organisation_header: str | None = Field(default=None, max_length=200)
    organisation_symbol: str | None = Field(default=None, max_length=40)
    organisation_place: str | None = Field(default=None, max_length=100)
    # The key of the signed evidence links /donvi sends (bot/web/evidence.py), shared by every
    # process that serves the web console; None: a random key per process (a link then opens
    # only on the process that made it, as with `cadrebot run` serving the console itself).
    link_secret: SecretStr | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                "unknown timezone (expected an IANA name such as Asia/Ho_Chi_Minh)"
            ) from exc
        return value

    @field_validator(
        "organisation_name",
        "organisation_parent",
        "organisation_header",
        "organisation_symbol",
        "organisation_place",
    )
    @classmethod
    def _one_line_of_text(cls, value: str | None) -> str | None:
        """Written into chat messages and documents: one line, composed (NFC) Vietnamese, runs
        of spaces made one; only spaces: not set."""
        if value is None:
            return value
        if any(unicodedata.category(ch) == "Cc" and not ch.isspace() for ch in value):
            raise ValueError("must be plain text (no control characters)")
        return " ".join(unicodedata.normalize("NFC", value).split()) or None

    @field_validator("web_url")
    @classmethod
    def _web_origin(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test)")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must start with sqlite or postgresql")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret_alphabet(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        raw = value.get_secret_value()
        allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        if not 1 <= len(raw) <= 256 or not set(raw) <= allowed:
            raise ValueError("must be 1-256 characters A-Z a-z 0-9 _ -")
        return value

    @field_validator("zalo_webhook_secret")
    @classmethod
    def _zalo_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 8 <= len(value.get_secret_value()) <= 256:
            raise ValueError("must be 8-256 characters")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read settings; a wrong value raises SettingsError with one line naming the variable.

    The offending value is never echoed, so a secret cannot leak into the message.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"CADREBOT_{field.upper()}: {message}") from None


def shared_key(purpose: bytes, *sources: SecretStr | None) -> bytes | None:
    """A signing key that is the same in every worker of one deployment: the SHA-256 of `purpose`
    and the first of `sources` that is set (CADREBOT_LINK_SECRET first, then a bot token every
    worker holds). None when none is set. A key drawn in one process would make the other
    workers refuse what it signed."""
    for index, source in enumerate(sources):
        if source is not None and source.get_secret_value():
            value = source.get_secret_value().encode()
            return hashlib.sha256(purpose + bytes([index]) + b"\0" + value).digest()
    return None
