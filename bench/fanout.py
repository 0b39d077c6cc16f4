"""Fan-out benchmark: the sender against a local stand-in for the Telegram Bot API.

    python -m bench.fanout [--chats 3000] [--burst 30] [--rate 25] [--quick]

A tiny HTTP server (asyncio streams, keep-alive) answers `sendMessage` like the Bot API and
enforces Telegram's limits: about 30 messages/s for the bot, one message per second per private
chat (with a small tolerance for network jitter); a request over a limit gets
`429 Too Many Requests` with `retry_after`. The outbox gets one reminder for each of `--chats`
people plus `--burst` messages to one person; the sender (real RateLimiter, wall clock) drains it.
Reported: the send span (first to last message the stub accepted), the achieved rate
(messages / send span), the ideal span (max((messages - 1) / rate, burst - 1)), the whole drain
time (including claiming before the first send), 429s, duplicates and losses. `--quick` is a
small run (250 chats + 10) for a smoke test; the issue's target is the default size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from scheduler.channels import RetryAfter, SendResult, TransientError, Unreachable
from scheduler.ratelimit import RateLimiter
from scheduler.sender import Sender
from storage import outbox
from storage.clock import system_clock
from storage.db import Database
from storage.messages import OutgoingMessage
from storage.models import ChatIdentity, Person, metadata

TOKEN = "123:bench"


@dataclass
class StubBotApi:
    global_per_second: int = 30
    chat_interval: float = 1.0
    tolerance: float = 0.1
    delivered: list[tuple[str, str]] = field(default_factory=list)
    delivered_at: list[float] = field(default_factory=list)
    rejected: int = 0
    _recent: deque[float] = field(default_factory=deque)
    _last_by_chat: dict[str, float] = field(default_factory=dict)
    _next_id: int = 0

    def decide(self, chat_id: str, text: str) -> tuple[int, dict[str, Any]]:
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        last = self._last_by_chat.get(chat_id)
        if last is not None and now - last < self.chat_interval - self.tolerance:
            self.rejected += 1
            return 429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 1}}
        if len(self._recent) >= self.global_per_second:
            self.rejected += 1
            return 429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 1}}
        self._recent.append(now)
        self._last_by_chat[chat_id] = now
        self.delivered.append((chat_id, text))
        self.delivered_at.append(now)
        self._next_id += 1
        return 200, {"ok": True, "result": {"message_id": self._next_id}}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                length = 0
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = json.loads(await reader.readexactly(length)) if length else {}
                status, answer = self.decide(str(body.get("chat_id")), str(body.get("text")))
                data = json.dumps(answer).encode()
                reason = "OK" if status == 200 else "Too Many Requests"
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


class HttpBotChannel:
    """A minimal Bot API client for the benchmark (the real adapter lives in bot.channels)."""

    name = "telegram"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, chat_id: str, message: OutgoingMessage) -> SendResult:
        try:
            response = await self.client.post(
                f"/bot{TOKEN}/sendMessage", json={"chat_id": chat_id, "text": message.text}
            )
        except httpx.HTTPError as exc:
            raise TransientError(type(exc).__name__) from exc
        answer = response.json()
        if response.status_code == 429:
            raise RetryAfter(float(answer.get("parameters", {}).get("retry_after", 1)))
        if response.status_code == 403:
            raise Unreachable(str(answer.get("description", "forbidden")))
        if response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code}")
        return SendResult(message_id=str(answer["result"]["message_id"]))


async def _prepare(db: Database, chats: int, burst: int) -> int:
    now = datetime.now(UTC)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with db.write() as session:
        people = [{"full_name": f"Bench {i}", "created_at": now} for i in range(chats + 1)]
        await session.execute(insert(Person), people)
        await session.execute(
            insert(ChatIdentity),
            [
                {
                    "person_id": i + 1,
                    "channel": "telegram",
                    "external_id": str(100000 + i),
                    "chat_id": str(100000 + i),
                    "bound_at": now,
                    "last_seen_at": now,
                }
                for i in range(chats + 1)
            ],
        )
        rows = [
            {
                "key": f"bench:{i}",
                "kind": "reminder",
                "person_id": i + 1,
                "payload": {"text": f"r{i}"},
            }
            for i in range(chats)
        ]
        rows += [
            {
                "key": f"bench:burst:{j}",
                "kind": "reminder",
                "person_id": chats + 1,
                "payload": {"text": f"b{j}"},
            }
            for j in range(burst)
        ]
        await outbox.enqueue_many(session=session, rows=rows, now=now)
    return len(rows)


async def main(chats: int, burst: int, rate: float) -> dict[str, Any]:
    stub = StubBotApi()
    server = await asyncio.start_server(stub.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        expected = await _prepare(db, chats, burst)
        burst_chat = str(100000 + chats)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            sender = Sender(
                db, [HttpBotChannel(client)], RateLimiter(rate=rate), clock=system_clock
            )
            started = time.monotonic()
            rate_limited = 0
            while True:
                stats = await sender.drain_once()
                rate_limited += stats.rate_limited
                async with db.read() as session:
                    counts = await outbox.counts_by_status(session=session)
                if not counts.get("pending"):
                    break
                if not stats.claimed:
                    await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
        await db.dispose()
    server.close()
    await server.wait_closed()
    delivered = Counter(text for _, text in stub.delivered)
    times = stub.delivered_at
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    burst_times = [
        t for (chat, _), t in zip(stub.delivered, times, strict=True) if chat == burst_chat
    ]
    return {
        "messages": expected,
        "delivered": len(stub.delivered),
        "send_span_s": round(span, 1),
        "achieved_per_s": round(len(stub.delivered) / span, 2) if span else None,
        "configured_per_s": rate,
        "achieved_share": round(len(stub.delivered) / span / rate, 3) if span else None,
        "ideal_span_s": round(max((expected - 1) / rate, burst - 1), 1),
        "drain_s": round(elapsed, 1),
        "burst_first_last_s": (
            [round(burst_times[0] - times[0], 1), round(burst_times[-1] - times[0], 1)]
            if burst_times
            else None
        ),
        "http_429": stub.rejected,
        "sender_rate_limited": rate_limited,
        "duplicates": sum(n - 1 for n in delivered.values() if n > 1),
        "lost": expected - len(delivered),
        "outbox": counts,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--quick", action="store_true", help="250 chats + 10 (a smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.chats, args.burst = 250, 10
    print(json.dumps(asyncio.run(main(args.chats, args.burst, args.rate)), indent=2))
