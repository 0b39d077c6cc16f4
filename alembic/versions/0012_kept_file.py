"""kept_file: short-lived files for chat links (Zalo's digest chart, the /xuat workbook)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kept_file",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_kept_file_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kept_file")),
    )
    op.create_index(op.f("ix_kept_file_person_id"), "kept_file", ["person_id"], unique=False)
    op.create_index(op.f("ix_kept_file_sha256"), "kept_file", ["sha256"], unique=False)
    op.create_index(op.f("ix_kept_file_expires_at"), "kept_file", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_kept_file_expires_at"), table_name="kept_file")
    op.drop_index(op.f("ix_kept_file_sha256"), table_name="kept_file")
    op.drop_index(op.f("ix_kept_file_person_id"), table_name="kept_file")
    op.drop_table("kept_file")
