"""The built-in campaign and what a campaign form offers from it: the kinds of deliverable (each
with its questions and rules), a new deliverable of a kind added to plain definition data, and
the time zones a campaign may use."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import available_timezones

from storage.campaigns.definition import DeliverableDecl, parse_definition

TEMPLATE_NAME = "nq-xii.yaml"
TWO_LEVEL_TEMPLATE_NAME = "nq-hai-cap.yaml"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
KEY_LIMIT = 64  # DeliverableDecl.key


def template_text(*, two_level: bool = False) -> str:
    """The built-in campaign file (the article's campaign), exactly as packaged; `two_level`:
    the same campaign for the two-level structure (tỉnh -> xã, phường; no huyện) with its own
    reporting groups ("cấp tỉnh"; "cấp xã, phường")."""
    name = TWO_LEVEL_TEMPLATE_NAME if two_level else TEMPLATE_NAME
    return resources.files("storage.templates").joinpath(name).read_text(encoding="utf-8")


@cache
def _kinds() -> tuple[DeliverableDecl, ...]:
    return tuple(parse_definition(template_text()).deliverables)


def deliverable_kinds() -> list[DeliverableDecl]:
    """The kinds of deliverable a form may add, in the template's order: the built-in
    campaign's deliverables (study session with its essays, action programme, heads' action
    plans), each with its questions and rules. Copies: changing one changes no other."""
    return [kind.model_copy(deep=True) for kind in _kinds()]


def free_key(kind: str, taken: Collection[str]) -> str:
    """The kind's key if no deliverable has it yet, else the first of kind_2, kind_3 ..."""
    if kind not in taken:
        return kind
    n = 2
    while f"{kind[: KEY_LIMIT - 1 - len(str(n))]}_{n}" in taken:
        n += 1
    return f"{kind[: KEY_LIMIT - 1 - len(str(n))]}_{n}"


def add_deliverable(
    data: dict[str, Any],
    *,
    kind: str,
    name_vi: str,
    name_en: str,
    deadlines: Mapping[str, date | None],
    taken: Collection[str] = (),
) -> str:
    """Append a deliverable of `kind` (its questions and rules) to plain definition data (as
    `validate_definition` takes it), named as given (`name_en` empty: the kind's English
    name; its sheet titled by its name, not the kind's short sheet name), due per level as
    given. Its key is the kind's, made unique against the keys in `data` and `taken` (those of
    deliverables being removed in the same change, so that a key is never reused at once);
    returns the key. KeyError for an unknown kind."""
    found = {item.key: item for item in _kinds()}[kind]
    keys = {item["key"] for item in data["deliverables"]} | set(taken)
    new = found.model_dump(mode="python")
    key = free_key(kind, keys)
    new.update(key=key, name_vi=name_vi, name_en=name_en or found.name_en)
    # The kind's short sheet names shorten the kind's own name, not this one: the paper
    # template titles this deliverable's sheet by the name given (storage.report_import).
    new.update(sheet_vi=None, sheet_en=None)
    new["deadlines"] = dict(deadlines)
    data["deliverables"].append(new)
    return key


@cache
def timezones() -> tuple[str, ...]:
    """The IANA time zones a campaign may name, sorted (the default, Vietnam's, among them)."""
    names = {
        name
        for name in available_timezones()
        if ("/" in name or name == "UTC") and not name.startswith(("posix/", "right/", "Etc/"))
    }
    return tuple(sorted(names | {DEFAULT_TIMEZONE}))
