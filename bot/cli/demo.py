"""`cadrebot demo`: the offline demo in a fresh SQLite file (no token, no network)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from bot.cli import common
from bot.demo.world import World, build_world
from storage.db import Database

DEMO_START = datetime(2016, 5, 20, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        output: Path = typer.Option(Path("demo-output"), help="Thư mục ghi kết quả."),
        units: int = typer.Option(200, min=8, max=20_000, help="Số đơn vị của tỉnh hư cấu."),
        seed: int = typer.Option(2016, help="Hạt giống ngẫu nhiên (cùng hạt giống, cùng kết quả)."),
    ) -> None:
        """Chạy bản trình diễn ngoại tuyến (không cần token, không cần mạng)."""
        output.mkdir(parents=True, exist_ok=True)
        database_file = output / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database_file}{suffix}").unlink(missing_ok=True)
        world = common.run(_build(database_file, units=units, seed=seed))
        _print_summary(world, database_file)


async def _build(database_file: Path, *, units: int, seed: int) -> World:
    db = Database.from_url(f"sqlite+aiosqlite:///{database_file}")
    try:
        return await build_world(db, now=DEMO_START, units=units, seed=seed)
    finally:
        await db.dispose()


def _print_summary(world: World, database_file: Path) -> None:
    table = Table(title="Tỉnh hư cấu đã được tạo")
    table.add_column("Cấp")
    table.add_column("Số đơn vị", justify="right")
    for level, count in world.units_by_level.items():
        table.add_row(level, str(count))
    table.add_row("Tổng", str(world.unit_count))
    common.console.print(table)
    common.console.print(
        f"Đợt học tập {world.campaign_reference} (mã {world.campaign_id}); "
        f"{len(world.reporters)} mã mời bí thư, {len(world.supervisors)} mã mời ủy viên "
        f"Ban Thường vụ, {len(world.admins)} mã mời Ban Tuyên giáo."
    )
    common.console.print(f"Cơ sở dữ liệu: {database_file}")
