"""presenter standing, session assessment, paper report date

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assessment", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("assessed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("assessed_by_person_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_report_assessed_by_person_id_person"),
            "person",
            ["assessed_by_person_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("report_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "presenter_standing", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.add_column(sa.Column("reported_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_version", schema=None) as batch_op:
        batch_op.drop_column("reported_on")
        batch_op.drop_column("presenter_standing")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_report_assessed_by_person_id_person"), type_="foreignkey"
        )
        batch_op.drop_column("assessed_by_person_id")
        batch_op.drop_column("assessed_at")
        batch_op.drop_column("assessment")
