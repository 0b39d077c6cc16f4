"""Alembic: `upgrade` builds the same schema as the models, and is safe to run twice."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import create_engine
from storage.migrate import head_revision, upgrade
from storage.models import metadata


async def test_upgrade_twice_and_matches_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        before, after = await upgrade(engine)
        assert before is None
        assert after == head_revision()
        again_before, again_after = await upgrade(engine)
        assert again_before == again_after == head_revision()

        def _diff(connection):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)

        def _tables(connection):  # type: ignore[no-untyped-def]
            return set(inspect(connection).get_table_names())

        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(_tables)
        assert set(metadata.tables) <= tables
    finally:
        await engine.dispose()
