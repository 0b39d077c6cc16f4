"""review state per report version (pending / approved / returned with a reason)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "review_state",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="pending",
            )
        )
        batch_op.add_column(
            sa.Column("review_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reviewed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reviewed_by_person_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_report_version_reviewed_by_person_id_person"),
            "person",
            ["reviewed_by_person_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("report_version", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_report_version_reviewed_by_person_id_person"), type_="foreignkey"
        )
        batch_op.drop_column("reviewed_by_person_id")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("review_reason")
        batch_op.drop_column("review_state")
