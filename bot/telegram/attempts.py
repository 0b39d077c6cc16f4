"""Re-export: the throttling of failed `/start <code>` attempts lives in `storage.attempts`."""

from storage.attempts import (
    ACTION,
    ENTITY,
    LIMIT,
    WINDOW,
    recent_failures,
    record_failure,
    throttled,
)

__all__ = ["ACTION", "ENTITY", "LIMIT", "WINDOW", "recent_failures", "record_failure", "throttled"]
