"""Rate-limited logging for the HTTP servers (Telegram's and Zalo's webhooks), and their
open-file limit (`raise_open_file_limit`).

A flood of broken connections (a thousand idle half-open sockets, a port scan) makes tornado and
the asyncio loop log one warning or error per event: 125,000 records in 30 s were measured, which
fills the disk and hides everything else. `RateLimit` lets through at most `burst` records of the
same kind (logger, level, message template) per `period` seconds; the first one let through after
a quiet spell says how many were dropped. INFO and below pass untouched (the access log of
normal traffic is not thinned)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

SERVER_LOGGERS = ("tornado.access", "tornado.application", "tornado.general", "asyncio")
PERIOD = 10.0
BURST = 20


@dataclass
class _Window:
    start: float
    passed: int = 0
    dropped: int = 0


class RateLimit(logging.Filter):
    def __init__(
        self,
        *,
        period: float = PERIOD,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.period, self.burst, self.clock = period, burst, clock
        self._windows: dict[tuple[str, int, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window.start >= self.period:
            dropped = window.dropped if window is not None else 0
            window = self._windows[key] = _Window(now)
            if len(self._windows) > 1000:  # forget the oldest kinds; the dict stays small
                for old in list(self._windows)[:500]:
                    del self._windows[old]
                self._windows[key] = window
            if dropped:
                record.msg = f"{record.getMessage()} ({dropped} similar records suppressed)"
                record.args = None
        if window.passed >= self.burst:
            window.dropped += 1
            return False
        window.passed += 1
        return True


_installed: RateLimit | None = None


def limit_server_logs() -> RateLimit:
    """Install one shared `RateLimit` on the HTTP server's and the event loop's loggers (once),
    and raise the open-file limit (`raise_open_file_limit`)."""
    global _installed
    if _installed is None:
        raise_open_file_limit()
        _installed = RateLimit()
        for name in SERVER_LOGGERS:
            logging.getLogger(name).addFilter(_installed)
    return _installed


OPEN_FILES_TARGET = 65_536


def raise_open_file_limit(target: int = OPEN_FILES_TARGET) -> int:
    """Raise this process's soft limit of open files towards `target` (never above the hard
    limit); returns the soft limit now in force. With the usual soft limit of 1,024, a thousand
    idle connections exhausted the descriptors: the server could not accept (nor answer its
    health check) until the idle timeout closed them, and the accept loop spun logging."""
    try:
        import resource
    except ImportError:  # not on this platform
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return int(soft)
