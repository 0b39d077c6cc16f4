"""Start-up benchmark: how long a person waits for the command line and for a starting bot.

    python -m bench.startup [--runs 7]

Each measured command is a fresh interpreter, started the way the installed `cadrebot` script
starts it (`python -c "from bot.cli.main import main; main()" ARGS`):

- `cadrebot --help`;
- `cadrebot units list` on an empty database (made by `cadrebot init` beforehand, not timed);
- `cadrebot run`: from spawning the process to its first `getUpdates` (the bot is listening) and
  to its first answer (a private message queued before the start, answered with the polite
  refusal an unknown person gets), against the local Bot API stand-in of the tests
  (tests/botapi_stub.py) on 127.0.0.1.

The floors, measured in the same run and the same way: the bare interpreter (`python -c pass`),
the interpreter importing Typer (`python -c "import typer"`), and a two-command Typer app
printing its `--help` (the bare interpreter + Typer, with the same Rich help rendering). The
ratios are to the Typer-app floor. Medians of `--runs` runs (wall time; CPU time of the child
for the short commands). Goals: `--help` within 2x the floor; the first answer within 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.botapi_stub import BotApiStub

CLI = [sys.executable, "-c", "from bot.cli.main import main; main()"]
TYPER_APP = """
import typer
app = typer.Typer(no_args_is_help=True, add_completion=False)
@app.command()
def first() -> None:
    "The first command."
@app.command()
def second() -> None:
    "The second command."
app()
"""
TOKEN = "123:BENCH"
USER = 555001
WAIT = 120.0  # outer limit for the bot to answer (a shared machine can be slow)


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")


def environment(database_url: str, api_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADREBOT_")}
    env["CADREBOT_DATABASE_URL"] = database_url
    if api_url is not None:
        env["CADREBOT_TELEGRAM_TOKEN"] = TOKEN
        env["CADREBOT_TELEGRAM_API_URL"] = api_url
    return env


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> Timing:
    timing = Timing([], [])
    for _ in range(runs):
        cpu = child_cpu()
        start = time.perf_counter()
        result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=WAIT)
        timing.wall.append(time.perf_counter() - start)
        timing.cpu.append(child_cpu() - cpu)
        if result.returncode != 0:
            raise SystemExit(f"{argv[-1]} failed:\n{result.stderr.decode(errors='replace')}")
    return timing


async def first_answer(env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds from spawning `cadrebot run` to its first getUpdates and to its first answer."""
    stub = BotApiStub(token=TOKEN)
    await stub.start()
    await stub.push(stub.text_update(USER, "xin chào"))
    env = {**env, "CADREBOT_TELEGRAM_TOKEN": TOKEN, "CADREBOT_TELEGRAM_API_URL": stub.base_url}
    log = (cwd / "run.log").open("ab")
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *CLI, "run", env=env, cwd=cwd, stdout=log, stderr=log
    )
    log.close()
    try:
        await stub.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls), WAIT)
        polled = time.perf_counter() - start
        await stub.wait_for(lambda calls: stub.messages_to(USER) or None, WAIT)
        answered = time.perf_counter() - start
    finally:
        process.terminate()
        await process.wait()
        await stub.close()
    return polled, answered


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×".replace(".", ",")


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cadrebot-startup-") as tmp:
        work = Path(tmp)
        env = environment(f"sqlite+aiosqlite:///{work / 'cadrebot.db'}")
        timed([*CLI, "init"], env, work, 1)
        app_file = work / "typer_app.py"
        app_file.write_text(TYPER_APP, encoding="utf-8")

        bare = timed([sys.executable, "-c", "pass"], env, work, runs)
        typer_import = timed([sys.executable, "-c", "import typer"], env, work, runs)
        floor = timed([sys.executable, str(app_file), "--help"], env, work, runs)
        help_ = timed([*CLI, "--help"], env, work, runs)
        units = timed([*CLI, "units", "list"], env, work, runs)
        polled: list[float] = []
        answered: list[float] = []
        for start in range(max(3, runs // 2)):
            # A fresh copy of the empty database each start: the stub numbers its updates from
            # the same id, and a processed update is not answered twice.
            fresh = work / f"run-{start}.db"
            shutil.copyfile(work / "cadrebot.db", fresh)
            run_env = {**env, "CADREBOT_DATABASE_URL": f"sqlite+aiosqlite:///{fresh}"}
            first_poll, first = asyncio.run(first_answer(run_env, work))
            polled.append(first_poll)
            answered.append(first)

    base = floor.median_wall
    rows = [
        ("floor: `python -c pass`", bare),
        ("floor: `python -c 'import typer'`", typer_import),
        ("**floor: two-command Typer app `--help`**", floor),
        ("`cadrebot --help`", help_),
        ("`cadrebot units list` (empty database)", units),
    ]
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {runs} runs, medians\n")
    print("| command | wall | CPU | wall / Typer-app floor |")
    print("|---|---:|---:|---:|")
    for label, timing in rows:
        print(
            f"| {label} | {ms(timing.median_wall)} | {ms(timing.median_cpu)} "
            f"| {ratio(timing.median_wall, base)} |"
        )
    for label, values in (
        ("`cadrebot run`: spawn → first getUpdates", polled),
        ("`cadrebot run`: spawn → first answer", answered),
    ):
        median = statistics.median(values)
        spread = f"{ms(min(values))}–{ms(max(values))}"
        print(f"| {label} ({len(values)} starts: {spread}) | {ms(median)} | ", end="")
        print(f"| {ratio(median, base)} |")
    print(
        f"\n--help / floor: {ratio(help_.median_wall, base)} (goal ≤ 2×); first answer "
        f"{statistics.median(answered):.2f} s (goal ≤ 3 s)".replace(".", ",")
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
