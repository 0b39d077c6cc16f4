"""The built-in campaigns and what a campaign form offers from them: which built-in template fits
a unit tree (its levels), the kinds of deliverable (each with its questions and rules), a new
deliverable of a kind added to plain definition data, and the time zones a campaign may use."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import available_timezones

from storage.campaigns.definition import CampaignDefinition, DeliverableDecl, parse_definition

TEMPLATE_NAME = "nq-xii.yaml"
TWO_LEVEL_TEMPLATE_NAME = "nq-hai-cap.yaml"
# The built-in templates by their short name, the three-level one (tỉnh -> huyện -> cơ sở)
# first: where both fit a tree, it is the one offered first.
TEMPLATES = {"nq-xii": TEMPLATE_NAME, "nq-hai-cap": TWO_LEVEL_TEMPLATE_NAME}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
KEY_LIMIT = 64  # DeliverableDecl.key


TWO_LEVEL_TEMPLATE = "nq-hai-cap"  # the TEMPLATES key of the two-level (no huyện) file


def template_text(*, two_level: bool = False) -> str:
    """The built-in campaign file (the article's campaign), exactly as packaged; `two_level`:
    the same campaign for the two-level structure (tỉnh -> xã, phường; no huyện) with its own
    reporting groups ("cấp tỉnh"; "cấp xã, phường")."""
    return builtin_text(TWO_LEVEL_TEMPLATE if two_level else "nq-xii")


def builtin_text(name: str) -> str:
    """The built-in template `name` (a key of TEMPLATES) as packaged; KeyError for another."""
    file = TEMPLATES[name]
    return resources.files("storage.templates").joinpath(file).read_text(encoding="utf-8")


@cache
def _builtin(name: str) -> CampaignDefinition:
    return parse_definition(builtin_text(name))


def builtin_template(name: str) -> CampaignDefinition:
    """The built-in template `name` parsed (a copy: changing it changes no other)."""
    return _builtin(name).model_copy(deep=True)


def levels_used(definition: CampaignDefinition) -> set[str]:
    """The level codes a definition names: its deadlines' and its reporting groups'."""
    used = {level for item in definition.deliverables for level in item.deadlines}
    groups = definition.campaign.reporting_groups
    return used | {level for group in groups for level in group.levels}


def fitting_templates(levels: Collection[str]) -> list[str]:
    """The built-in templates (names, in TEMPLATES' order) whose levels all are among `levels`
    (the unit tree's level codes): on the 2025 structure with no huyện level, the two-level
    one only; on a tree with every level, both. Loading one of them never meets an unknown
    level."""
    known = set(levels)
    return [name for name in TEMPLATES if levels_used(_builtin(name)) <= known]


def template_for_tree(levels_in_use: Collection[str]) -> str | None:
    """The built-in template (name) for a tree whose units use `levels_in_use`: the one naming
    the most of those levels and, among those, the fewest levels no unit has: a province with no
    huyện unit gets the two-level one, a tree with every level the article's three-level one.
    None for an empty tree (nothing to go by)."""
    used = set(levels_in_use)
    if not used:
        return None

    def fit(name: str) -> tuple[int, int]:
        named = levels_used(_builtin(name))
        return len(named & used), -len(named - used)

    return max(TEMPLATES, key=fit)


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
