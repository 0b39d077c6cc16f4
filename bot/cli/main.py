"""Entry point of the `cadrebot` command line. Sub-command groups live in sibling modules."""

from __future__ import annotations

import typer

from bot.cli import common

app = typer.Typer(
    name="cadrebot",
    help="cadrebot: Party resolution-study campaigns in chat (Telegram, Zalo).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def init() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from storage.migrate import upgrade
    from storage.units import ensure_default_levels

    async def _init() -> tuple[str | None, str]:
        async with common.database() as db:
            result = await upgrade(db.engine)
            async with db.write() as session:
                await ensure_default_levels(session=session)
            return result

    from bot.i18n import t

    before, after = common.run(_init())
    if before == after:
        common.console.print(t("cli.init.current", revision=after))
    else:
        empty = t("cli.init.empty")
        common.console.print(t("cli.init.upgraded", before=before or empty, after=after))


def _register() -> None:
    from bot.cli import (
        campaigns,
        demo,
        exports,
        figures,
        invites,
        ops,
        people,
        run,
        schedule,
        units,
    )

    app.add_typer(units.app, name="units")
    app.add_typer(people.app, name="people")
    app.add_typer(invites.app, name="invite")
    app.add_typer(campaigns.app, name="campaign")
    figures.register(app)
    exports.register(app)
    schedule.register(app)
    run.register(app)
    ops.register(app)
    ops.register_people(people.app)
    demo.register(app)


_register()


def main() -> None:
    app()
