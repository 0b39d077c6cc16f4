"""A thin async client for the Zalo Bot API (`<base><token>/<method>`, JSON in, JSON out).

Every answer is `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description":
"..."}`. Failures are raised as the three outcomes of `bot.channels.base`, so the outbox sender
and the polling loop need no Zalo knowledge: `RetryAfter` (429), `Unreachable` (403, or a 400
naming a chat or user that does not exist) and `TransientError` (anything else: network, 5xx,
a 400 we built wrong, an unreadable answer). The token is part of the URL, so no message built
here ever contains the URL; an error description that echoes the token (in any letter case) has
it replaced by *** before it goes into an exception."""

from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import Any

import httpx

from scheduler.channels import RetryAfter, TransientError, Unreachable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0
POLL_TIMEOUT = 30  # seconds getUpdates waits for an update
POLL_EMPTY = 408  # Zalo's answer to a long poll that found nothing
DEFAULT_RETRY_AFTER = 1.0
UNREACHABLE_HINTS = ("not found", "blocked", "not exist", "invalid chat", "invalid user")


class ZaloClient:
    def __init__(
        self,
        token: str,
        base_url: str = "https://bot-api.zapps.me/bot",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._prefix = f"{base_url}{token}/"
        self._token = re.compile(re.escape(token), re.IGNORECASE) if token else None
        self._timeout = timeout
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> ZaloClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, wait: float | None = None
    ) -> Any:
        """POST one method; the `result`, or one of RetryAfter / Unreachable / TransientError."""
        try:
            response = await self._http.post(
                self._prefix + method, json=params or {}, timeout=wait or self._timeout
            )
        except httpx.HTTPError as exc:  # connect, read, timeout ... (the URL is not repeated)
            raise TransientError(f"zalo {method}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransientError(f"zalo {method}: HTTP {response.status_code}, unreadable answer")
        if body.get("ok") is True and response.status_code < 400:
            return body.get("result")
        code = _int(body.get("error_code")) or response.status_code
        description = str(body.get("description") or "")
        if self._token is not None:
            description = self._token.sub("***", description)
        description = description[:200]
        raise _error(method, code, description, body, response)

    # --- the methods -------------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        return dict(await self.call("getMe") or {})

    async def get_updates(self, poll_seconds: int = POLL_TIMEOUT) -> list[dict[str, Any]]:
        """The next updates (Zalo answers one update per call; a list is accepted too); [] when
        the long poll ended without any."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(poll_seconds)}, wait=poll_seconds + 10.0
            )
        except TransientError as exc:
            if f"error {POLL_EMPTY}" in exc.reason:
                return []
            raise
        if isinstance(result, list):
            return [item for item in result if isinstance(item, dict)]
        if isinstance(result, dict) and result:
            return [result]
        return []

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        return _dict(await self.call("sendMessage", {"chat_id": str(chat_id), "text": text}))

    async def send_photo(
        self, chat_id: str, photo_url: str, caption: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": str(chat_id), "photo": photo_url}
        if caption:
            params["caption"] = caption
        return _dict(await self.call("sendPhoto", params, wait=60.0))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": str(chat_id), "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return _dict(await self.call("getWebhookInfo"))


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _error(
    method: str, code: int, description: str, body: dict[str, Any], response: httpx.Response
) -> Exception:
    if code == 429 or response.status_code == 429:
        parameters = body.get("parameters")
        wait = _int(parameters.get("retry_after")) if isinstance(parameters, dict) else None
        wait = wait or _int(response.headers.get("Retry-After"))
        return RetryAfter(float(wait) if wait else DEFAULT_RETRY_AFTER)
    lowered = description.lower()
    if code == 403 or (code in (400, 404) and any(h in lowered for h in UNREACHABLE_HINTS)):
        return Unreachable(f"zalo {method}: error {code} {description}")
    return TransientError(f"zalo {method}: error {code} {description}")
