"""audit log of facilitator decisions, role changes, exports and deletions; embedding tombstones

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index("ix_audit_events_action", "audit_events", ["action", "id"])
    op.create_table(
        "embedding_tombstones",
        sa.Column("posting_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("deleted_at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("posting_id", name=op.f("pk_embedding_tombstones")),
    )
    op.create_index(op.f("ix_embedding_tombstones_deleted_at"), "embedding_tombstones", ["deleted_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_embedding_tombstones_deleted_at"), table_name="embedding_tombstones")
    op.drop_table("embedding_tombstones")
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")
    op.drop_table("audit_events")
