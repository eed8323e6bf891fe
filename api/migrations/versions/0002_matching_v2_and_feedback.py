"""matching v2 (head vector, index terms) and facilitator feedback on suggestions

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("embeddings") as batch_op:
        batch_op.add_column(sa.Column("head_vector", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("terms", sa.JSON(), nullable=True))
    with op.batch_alter_table("suggestions") as batch_op:
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reviewed_at", api.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            op.f("fk_suggestions_reviewed_by_id_users"), "users", ["reviewed_by_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestions") as batch_op:
        batch_op.drop_constraint(op.f("fk_suggestions_reviewed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by_id")
        batch_op.drop_column("review_reason")
    with op.batch_alter_table("embeddings") as batch_op:
        batch_op.drop_column("terms")
        batch_op.drop_column("head_vector")
