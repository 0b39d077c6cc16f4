"""Telegram Mini App `initData`: checked before anything in it is believed.

Telegram signs the launch parameters with the bot's token: secret = HMAC-SHA256(key="WebAppData",
msg=token); hash = hex HMAC-SHA256(key=secret, msg=data-check-string), the data-check-string being
every field but `hash`, sorted by name, as `name=value` lines. `auth_date` (Unix seconds) must be
recent, so a copied initData stops working."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

MAX_AGE = timedelta(hours=1)
# A launch a little in the future is the phone's clock, not an attack; more is refused.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class MiniAppUser:
    telegram_id: int
    language_code: str | None


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The `hash` Telegram computes for these fields (also used by tests to build initData)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def validate_init_data(
    init_data: str, *, bot_token: str, now: datetime, max_age: timedelta = MAX_AGE
) -> MiniAppUser | None:
    """The Telegram user of a genuine, recent initData; None for anything else."""
    if not init_data or len(init_data) > 8192 or not bot_token:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        return None  # a repeated field: refuse rather than guess which one was signed
    given = fields.get("hash", "")
    if not hmac.compare_digest(sign(fields, bot_token), given):
        return None
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), tz=UTC)
        user = json.loads(fields["user"])
        telegram_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        return None
    if not now - max_age <= auth_date <= now + CLOCK_SKEW:
        return None
    language = user.get("language_code") if isinstance(user, dict) else None
    return MiniAppUser(telegram_id, language if isinstance(language, str) else None)
