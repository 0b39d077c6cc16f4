"""The command line starts light: `import bot.cli.main` and `cadrebot --help` load Typer and the
command table only; each command loads its libraries when it runs (a clerk listing units does
not wait for matplotlib, openpyxl, python-telegram-bot or the demo). The one-line help shown for
each command comes from the table, so it must stay the loaded command's own help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import COMMANDS, app, load_command

HEAVY = ("matplotlib", "openpyxl", "docx", "telegram", "bot.demo", "yaml", "apscheduler")
# Nothing but Typer: no settings, no database layer, no message catalog either.
NOT_AT_TOP = (*HEAVY, "sqlalchemy", "pydantic_settings", "bot.settings", "bot.i18n", "storage")


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level module names loaded by a fresh interpreter running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def test_importing_the_entry_point_loads_only_typer_and_the_table() -> None:
    assert present(loaded_after("import bot.cli.main"), NOT_AT_TOP) == []


def test_help_lists_every_command_without_loading_any() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert all(name in result.output for name in "
        + repr(["init", *COMMANDS])
        + "), result.output\n"
    )
    modules = loaded_after(code)
    assert present(modules, NOT_AT_TOP) == []
    assert present(modules, tuple(e.module for e in COMMANDS.values())) == []


def test_listing_units_loads_no_chart_workbook_bot_api_nor_demo(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CADREBOT_")},
        "CADREBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
    }
    code = (
        "from typer.testing import CliRunner\n"
        "from bot.cli.main import app\n"
        "for args in (['init'], ['units', 'list']):\n"
        "    result = CliRunner().invoke(app, args)\n"
        "    assert result.exit_code == 0, result.output\n"
    )
    assert present(loaded_after(code, env), HEAVY) == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_table_shows_each_command_s_own_help(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    own = " ".join((command.short_help or command.help or "").split())
    assert own.startswith(" ".join(COMMANDS[name].help.split()))


def test_a_command_still_runs_and_shows_its_own_help() -> None:
    result = CliRunner().invoke(app, ["people", "--help"])
    assert result.exit_code == 0, result.output
    for sub in ("import", "list", "remove", "forget"):
        assert sub in result.output
    result = CliRunner().invoke(app, ["nosuch"])
    assert result.exit_code != 0
    assert "nosuch" in result.output
