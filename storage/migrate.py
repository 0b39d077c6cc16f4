"""Schema creation and upgrades through Alembic (`cadrebot init`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "alembic"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Any, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; safe to run any number of times.

    Returns (revision before, revision after)."""
    config = alembic_config()
    async with engine.connect() as connection:
        before = await connection.run_sync(_current)
        await connection.run_sync(_upgrade, config)
        await connection.commit()
        after = await connection.run_sync(_current)
    return before, str(after)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
