"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every engine: stored as UTC, returned aware.

    SQLite has no timezone type, so values are normalised to UTC on the way in and tagged UTC on
    the way out. A naive datetime is refused, so none can reach the database by mistake.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Binary ("C") ordering on PostgreSQL so range scans over materialised paths use the index exactly
# as on SQLite, whatever the database's locale. Unbounded: a path is 8 characters per level, and
# VARCHAR(255) made trees deeper than 31 levels fail on PostgreSQL (migration 0003). SQLite never
# enforces a VARCHAR length, so its column keeps the declared VARCHAR(255) (changing the type
# would rebuild the unit table for nothing).
PathString = (
    Text().with_variant(String(255), "sqlite").with_variant(Text(collation="C"), "postgresql")
)

JSONType: Any = JSON().with_variant(JSONB(), "postgresql")
