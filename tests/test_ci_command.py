"""CI runs the whole suite with exactly the README's full-suite command, and the README's
everyday command leaves out only the tests marked `slow` (a registered marker)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shell_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)]


def test_ci_runs_the_readme_full_suite_command() -> None:
    readme = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    full = [b for b in readme if b.endswith("-m pytest") and "pip install" in b]
    assert len(full) == 1, readme
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert full[0] in ci_lines
    assert not [line for line in ci_lines if "pytest" in line and line != full[0]]


def test_the_everyday_command_leaves_out_only_the_slow_tests() -> None:
    readme = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert '.venv/bin/python -m pytest -m "not slow"' in readme
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_options = config["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("slow:") for m in pytest_options["markers"])
    assert "--strict-markers" in pytest_options["addopts"]
