"""Re-export shim: the digest text renderer lives in `scheduler.digest_text`."""

from scheduler.digest_text import MAX_CHARS, change_text, delta_text, level_table, render_digest

__all__ = ["MAX_CHARS", "change_text", "delta_text", "level_table", "render_digest"]
