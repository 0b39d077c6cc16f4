"""Kept for existing imports: the processed-update records live in `storage.updates`."""

from __future__ import annotations

from storage.updates import KEEP, claim_update, forget_old_updates

__all__ = ["KEEP", "claim_update", "forget_old_updates"]
