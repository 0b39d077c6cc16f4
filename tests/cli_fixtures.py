"""The operations commands (`backup`, `restore`, `people forget`) as a Typer app for CliRunner."""

from __future__ import annotations

import typer

from bot.cli import ops


def ops_cli() -> typer.Typer:
    app = typer.Typer()
    ops.register(app)
    people = typer.Typer()
    ops.register_people(people)
    app.add_typer(people, name="people")
    return app
