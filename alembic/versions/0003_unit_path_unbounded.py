"""unit.path unbounded (TEXT COLLATE "C" on PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

A path takes 8 characters per level: VARCHAR(255) refused trees deeper than 31 levels on
PostgreSQL. SQLite does not enforce VARCHAR lengths, so nothing changes there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "unit",
        "path",
        type_=sa.Text(collation="C"),
        existing_type=sa.String(length=255, collation="C"),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "unit",
        "path",
        type_=sa.String(length=255, collation="C"),
        existing_type=sa.Text(collation="C"),
        existing_nullable=False,
    )
