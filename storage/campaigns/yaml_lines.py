"""Campaign files as YAML with line numbers: a SafeLoader without YAML 1.1's surprises, the
line of every key and item (so a problem names its line), and limits on the composed document
checked before anything is constructed."""

from __future__ import annotations

import re

import yaml


class Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 surprises: `21:00` stays text (not 1260), dates stay text
    (pydantic parses them and reports bad ones with their line)."""


_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


def line_map(node: yaml.Node) -> dict[tuple[str | int, ...], int]:
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(current: yaml.Node, loc: tuple[str | int, ...]) -> None:
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                child = (*loc, str(key_node.value))
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                child = (*loc, index)
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    lines[()] = node.start_mark.line + 1
    walk(node, ())
    return lines


# Limits on the composed YAML, checked before anything is constructed or walked: aliases share
# nodes, so a 492-byte "billion laughs" file expands to billions of nodes when walked as a tree;
# an alias inside its own anchor makes the tree infinite. The built-in campaign has about 400.
YAML_MAX_NODES = 20_000  # counted as a tree: every alias counts its whole subtree again
YAML_MAX_DEPTH = 40


class TooMuch(Exception):
    def __init__(self, code: str, line: int | None) -> None:
        super().__init__(code)
        self.code, self.line = code, line


def check_limits(root: yaml.Node) -> None:
    """Raise TooMuch for a recursive alias, a tree over YAML_MAX_NODES or YAML_MAX_DEPTH."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (tree size, height)
    open_nodes: set[int] = set()
    total = 0

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        nonlocal total
        line = node.start_mark.line + 1
        key = id(node)
        if key in open_nodes:
            raise TooMuch("campaign.error.yaml_recursive", line)
        known = sizes.get(key)
        if known is None:
            if depth > YAML_MAX_DEPTH:
                raise TooMuch("campaign.error.yaml_too_deep", line)
            open_nodes.add(key)
            size, height = 1, 0
            for child in children(node):
                child_size, child_height = visit(child, depth + 1)
                size, height = size + child_size, max(height, child_height + 1)
            open_nodes.discard(key)
            known = sizes[key] = (size, height)
        else:
            total += known[0] - 1  # the shared subtree counts again (its root is counted below)
        if depth + known[1] > YAML_MAX_DEPTH:
            raise TooMuch("campaign.error.yaml_too_deep", line)
        total += 1
        if total > YAML_MAX_NODES:
            raise TooMuch("campaign.error.yaml_too_big", line)
        return known

    visit(root, 0)
