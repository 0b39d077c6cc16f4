"""A stored job (the /tonghop digest, the /xuat workbook) runs as of the turn's own time, which
must carry its timezone: a naive time would shift every deadline by the server's offset."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.jobs import run_job
from bot.core.turn import Runtime
from storage.settings import Settings


async def test_a_stored_job_with_a_naive_time_is_refused() -> None:
    runtime = Runtime(db=None, clock=None, settings=Settings(_env_file=None))  # type: ignore[arg-type,call-arg]
    entry: dict[str, Any] = {"job": "digest", "at": "2026-12-03T10:00:00", "person_id": 1}
    with pytest.raises(ValueError, match="naive"):
        await run_job(runtime, entry)
