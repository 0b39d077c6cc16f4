"""Entry point of the `cadrebot` command line.

Every command lives in a sibling module that is imported only when that command runs: this
module imports Typer and the command table, nothing else, so `cadrebot --help` (and every
command that needs no chart, workbook or Bot API) does not pay for matplotlib, openpyxl,
python-telegram-bot or the demo. `COMMANDS` names each command, the module that defines it and
the one line `--help` shows for it (tests/test_cli_startup.py checks that line against the
loaded command, and that importing this module stays light).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Entry:
    """One top-level command: the module defining it and the line `--help` shows.

    `group`: the module's `app` (a Typer) is the sub-command group; otherwise the module's
    `register(app)` adds the command under its name."""

    module: str
    help: str
    group: bool = False


COMMANDS: dict[str, Entry] = {
    "report": Entry(
        "bot.cli.figures",
        "Viết đoạn báo cáo kết quả học tập, quán triệt từ số liệu (draft the written report).",
    ),
    "export": Entry(
        "bot.cli.exports",
        "Xuất số liệu đợt học tập ra Excel (XLSX) hoặc CSV (export the campaign's figures).",
    ),
    "remind": Entry(
        "bot.cli.schedule",
        "Nhắc nhở và đôn đốc ngay bây giờ / queue today's reminders and escalations now.",
    ),
    "digest": Entry(
        "bot.cli.schedule",
        "Bản tổng hợp tuần ngay bây giờ / queue this week's digests now (once per person).",
    ),
    "run": Entry(
        "bot.cli.run",
        "Chạy bot Telegram và/hoặc Zalo (kênh nào có mã bot) / run the bot on every channel "
        "that has a token.",
    ),
    "backup": Entry(
        "bot.cli.ops",
        "Sao lưu cơ sở dữ liệu SQLite ra một tệp trong khi trợ lý vẫn chạy.",
    ),
    "restore": Entry(
        "bot.cli.ops",
        "Kiểm tra một bản sao lưu SQLite rồi cài nó làm cơ sở dữ liệu (bản cũ được giữ lại "
        "với đuôi .bak).",
    ),
    "demo": Entry(
        "bot.cli.demo", "Chạy bản trình diễn ngoại tuyến (không cần token, không cần mạng)."
    ),
    "units": Entry(
        "bot.cli.units",
        "Cây đơn vị: nhập từ CSV/XLSX, xem danh sách. / Unit tree: import, list.",
        group=True,
    ),
    "people": Entry("bot.cli.people", "Cán bộ, vai trò / people and roles.", group=True),
    "invite": Entry("bot.cli.invites", "Mã mời / one-time invites.", group=True),
    "campaign": Entry("bot.cli.campaigns", "Đợt học tập, quán triệt / campaigns.", group=True),
    "reports": Entry(
        "bot.cli.exports",
        "Báo cáo giấy: mẫu nhập và nhập hàng loạt từ Excel/CSV (paper reports).",
    ),
    "web": Entry("bot.web.cli", "Chạy riêng trang quản lý trên web / run the web console alone."),
}

# The loaded commands, by name: loaded once per process (CliRunner builds a new group per call).
_loaded: dict[str, Any] = {}


def load_command(name: str) -> Any:
    """The real Click command behind `name` (importing its module on first use)."""
    if name in _loaded:
        return _loaded[name]
    entry = COMMANDS[name]
    module = importlib.import_module(entry.module)
    command: Any
    if entry.group:
        sub_app: typer.Typer = module.app
        if name == "people":  # `people forget` is defined with the other operations
            from bot.cli import ops

            ops.register_people(sub_app)
        command = typer.main.get_group(sub_app)
        command.name = name
    else:
        holder = typer.Typer()
        module.register(holder)
        command = typer.main.get_group(holder).commands[name]
    _loaded[name] = command
    return command


class LazyGroup(TyperGroup):
    """The top-level group: lists the table, imports a command's module only to run it (or to
    show that command's own help)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, entry in COMMANDS.items():
            self.commands[name] = _loaded.get(name) or TyperCommand(
                name=name, help=entry.help, short_help=entry.help
            )

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name in COMMANDS:
            command = load_command(name)
        return name, command, rest


app = typer.Typer(
    name="cadrebot",
    help="cadrebot: Party resolution-study campaigns in chat (Telegram, Zalo).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    # A callback makes Typer build the group even though only `init` is registered here.
    pass


@app.command()
def init() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from bot.cli import common
    from storage.i18n import t
    from storage.migrate import upgrade
    from storage.units import ensure_default_levels

    async def _init() -> tuple[str | None, str]:
        async with common.database() as db:
            result = await upgrade(db.engine)
            async with db.write() as session:
                await ensure_default_levels(session=session)
            return result

    before, after = common.run(_init())
    if before == after:
        common.console.print(t("cli.init.current", revision=after))
    else:
        empty = t("cli.init.empty")
        common.console.print(t("cli.init.upgraded", before=before or empty, after=after))


def main() -> None:
    app()
