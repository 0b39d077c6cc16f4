"""A benchmark rewriting its section of docs/benchmarks.md leaves every other section alone, and
keeps the dated reruns recorded under its own when asked to."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.scratch
from bench.scratch import replace_section

DOC = """# Benchmarks

## Digest rendering

old table

### Quiet rerun 2026-12-04

rerun table

## Figures

figures table
"""


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "benchmarks.md"
    path.write_text(DOC, encoding="utf-8")
    monkeypatch.setattr(bench.scratch, "DOCS", path)
    return path


def test_a_section_is_replaced_with_its_dated_reruns_kept(docs: Path) -> None:
    replace_section("Digest rendering", "## Digest rendering\n\nnew table\n", keep_dated=True)
    text = docs.read_text(encoding="utf-8")
    assert "old table" not in text and "new table" in text
    assert text.index("new table") < text.index("### Quiet rerun") < text.index("## Figures")
    assert "rerun table" in text and "figures table" in text


def test_a_whole_section_is_replaced_and_a_new_one_appended(docs: Path) -> None:
    replace_section("Digest rendering", "## Digest rendering\n\nnew table\n")
    replace_section("Ingest", "## Ingest\n\ningest table\n")
    text = docs.read_text(encoding="utf-8")
    assert "rerun table" not in text and "old table" not in text
    assert text.index("new table") < text.index("## Figures") < text.index("## Ingest")
    assert text.endswith("ingest table\n") and "figures table" in text
