"""The package chain (storage <- scheduler <- bot, leaf modules inside storage) is checked by
import-linter in CI; these tests show the check passes on the tree and fails on an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _copy(tmp_path: Path) -> Path:
    for package in ("bot", "storage", "scheduler"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so its packages are analysed, not the installed ones.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=300
    )


def _plant(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest, encoding="utf-8")


def test_the_tree_keeps_the_chain(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("storage/tree.py", "import bot.runtime  # noqa", "Package chain"),
        ("storage/tree.py", "import scheduler.sender  # noqa", "Package chain"),
        ("scheduler/ratelimit.py", "import bot.runtime  # noqa", "Package chain"),
        ("storage/messages.py", "import storage.models  # noqa", "Leaf modules"),
    ],
)
def test_an_upward_import_breaks_the_check(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    tree = _copy(tmp_path)
    _plant(tree / module, line)
    result = _lint(tree)
    assert result.returncode != 0
    verdicts = [ln.strip() for ln in result.stdout.splitlines() if ln.strip().endswith("BROKEN")]
    assert [v for v in verdicts if v.startswith(broken)], result.stdout
