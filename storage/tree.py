"""Materialised paths for the unit tree.

A unit's path is its ancestors' ids and its own, each as a fixed-width run of digits, root first:
unit 7 under unit 3 under unit 1 has path "00000001" "00000003" "00000007" (no separators).
Everything under X is `path >= X.path AND path < next_sibling(X.path)`: one range over a btree
index on both SQLite and PostgreSQL (the column is binary-collated there). No `LIKE`, which SQLite
cannot serve from an index, and no recursive CTE.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

SEGMENT = 8
MAX_ID = 10**SEGMENT - 1


def segment(unit_id: int) -> str:
    if not 0 < unit_id <= MAX_ID:
        raise ValueError(f"unit id out of range for a path segment: {unit_id}")
    return f"{unit_id:0{SEGMENT}d}"


def child_path(parent_path: str | None, unit_id: int) -> str:
    return (parent_path or "") + segment(unit_id)


def path_upper_bound(path: str) -> str:
    """The smallest path greater than every path in the subtree rooted at `path`."""
    if not path or len(path) % SEGMENT:
        raise ValueError(f"malformed path: {path!r}")
    last = int(path[-SEGMENT:])
    return path[:-SEGMENT] + f"{last + 1:0{SEGMENT}d}"


def path_ids(path: str) -> list[int]:
    return [int(path[i : i + SEGMENT]) for i in range(0, len(path), SEGMENT)]


def depth_of(path: str) -> int:
    return len(path) // SEGMENT - 1


def is_within(path: str, root_path: str) -> bool:
    """The unit at `path` is the unit at `root_path` or below it (fixed-width segments make the
    prefix test exact); the pure twin of `in_subtree`."""
    return path.startswith(root_path)


def in_subtree(path_column: Any, root_path: str) -> ColumnElement[bool]:
    """SQL condition: the row's path is `root_path` or below it."""
    return and_(path_column >= root_path, path_column < path_upper_bound(root_path))
