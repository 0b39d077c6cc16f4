"""processed update replies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: rows written before this revision have no stored replies (a replay
    # of one stays silent, as before).
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "replies",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.drop_column("replies")
