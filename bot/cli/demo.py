"""`cadrebot demo`: the whole product offline, in a fresh SQLite file (no token, no network)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer

from bot.cli import common
from storage.i18n import t

if TYPE_CHECKING:
    from bot.demo.outputs import DemoFiles
    from bot.demo.simulate import Simulation

DEMO_START = datetime(2016, 5, 20, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
DEMO_END = date(2016, 10, 3)


def fresh_database(output: Path) -> Path:
    """The demo's SQLite file in `output`, removed if an earlier run left one."""
    output.mkdir(parents=True, exist_ok=True)
    database_file = output / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_file}{suffix}").unlink(missing_ok=True)
    return database_file


async def run_demo(
    output: Path,
    *,
    units: int,
    seed: int,
    end: date = DEMO_END,
    quiet: bool = False,
    two_level: bool = False,
) -> tuple[Simulation, DemoFiles]:
    """Build the world, simulate the campaign and write the files; returns both."""
    # The simulator loads the whole bot (every channel, charts, workbooks): only when it runs.
    from bot.demo.outputs import write_outputs
    from bot.demo.simulate import Simulation
    from bot.demo.world import build_world
    from storage.db import Database

    database_file = fresh_database(output)
    db = Database.from_url(f"sqlite+aiosqlite:///{database_file}")
    try:
        world = await build_world(db, now=DEMO_START, units=units, seed=seed, two_level=two_level)
        with common.progress() as bar:
            task = bar.add_task(t("cli.demo.progress"), total=(end - DEMO_START.date()).days + 1)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            sim = Simulation(db, world, seed=seed, start=DEMO_START, end=end, on_day=advance)
            await sim.start()
            try:
                await sim.run()
                files = await write_outputs(sim, output)
            finally:
                await sim.stop()
        return sim, files
    finally:
        await db.dispose()


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        output: Path = typer.Option(Path("demo-output"), help="Thư mục ghi kết quả."),
        units: int = typer.Option(200, min=8, max=5_000, help="Số đơn vị của tỉnh hư cấu."),
        seed: int = typer.Option(2016, help="Hạt giống ngẫu nhiên (cùng hạt giống, cùng kết quả)."),
        two_level: bool = typer.Option(
            False,
            "--two-level",
            help="Mô hình hai cấp (tỉnh -> xã, phường; không có cấp huyện).",
        ),
    ) -> None:
        """Chạy bản trình diễn ngoại tuyến (không cần token, không cần mạng)."""
        _sim, files = common.run(run_demo(output, units=units, seed=seed, two_level=two_level))
        common.console.print(files.summary.read_text(encoding="utf-8"))
        common.console.print(t("cli.demo.files"))
        for path in files.all():
            common.console.print(f"  {path}")
        common.console.print(t("cli.demo.go_live"))
