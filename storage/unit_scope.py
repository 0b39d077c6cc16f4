"""Which rows of a unit-tree file an admin of part of the tree may import: every unit the file
names must lie, before and after the import, inside one of the admin's subtrees, and the units
the admin's roles sit on keep their parents (moving those is the level above's work). A
whole-tree admin (no roots given) may touch any unit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from storage.tree import is_within
from storage.unit_import import RowError, UnitRow


def rows_outside(
    *,
    rows: Mapping[str, UnitRow],
    parent: Mapping[str, str | None],
    stored: Mapping[str, tuple[str, str | None]],
    roots: Sequence[str],
    skip_lines: Iterable[int] = (),
) -> list[RowError]:
    """One error per row (by code: `rows`, with its final parent code in `parent`) that would
    touch a unit outside `roots` (admin subtree paths). `stored` maps each stored unit's code to
    (path, parent code). Lines in `skip_lines` already have an error and are not checked."""
    skipped = set(skip_lines)
    root_codes = {code for code, (path, _) in stored.items() if path in roots}
    errors: list[RowError] = []
    for code, row in rows.items():
        if row.line in skipped:
            continue
        here = stored.get(code)
        if here is not None and not any(is_within(here[0], root) for root in roots):
            errors.append(RowError(row.line, "not_yours", {"code": code}))
        elif code in root_codes:
            if here is not None and parent.get(code) != here[1]:
                errors.append(RowError(row.line, "own_unit_moved", {"code": code}))
        elif not _hangs_from(code, parent, stored, root_codes):
            errors.append(RowError(row.line, "not_yours", {"code": code}))
    return errors


def _hangs_from(
    code: str,
    parent: Mapping[str, str | None],
    stored: Mapping[str, tuple[str, str | None]],
    root_codes: set[str],
) -> bool:
    """Does the unit's chain of final parents reach one of `root_codes` (cycles: no)?"""
    seen = {code}
    node = parent[code] if code in parent else stored[code][1]
    while node is not None and node not in seen:
        if node in root_codes:
            return True
        seen.add(node)
        if node in parent:
            node = parent[node]
        elif node in stored:
            node = stored[node][1]
        else:
            return False
    return False
