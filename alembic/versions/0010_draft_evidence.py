"""draft_evidence: files sent while their report was still a draft (attached when confirmed)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draft_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_person_id", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_person_id"],
            ["person.id"],
            name=op.f("fk_draft_evidence_created_by_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["draft.id"],
            name=op.f("fk_draft_evidence_draft_id_draft"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_evidence")),
        sa.UniqueConstraint("draft_id", "sha256", name="uq_draft_evidence_draft_sha256"),
    )
    op.create_index(
        op.f("ix_draft_evidence_draft_id"), "draft_evidence", ["draft_id"], unique=False
    )
    op.create_index(op.f("ix_draft_evidence_sha256"), "draft_evidence", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_draft_evidence_sha256"), table_name="draft_evidence")
    op.drop_index(op.f("ix_draft_evidence_draft_id"), table_name="draft_evidence")
    op.drop_table("draft_evidence")
