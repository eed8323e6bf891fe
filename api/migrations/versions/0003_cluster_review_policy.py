"""cluster review policies

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_policies",
        sa.Column("s3_area", sa.String(length=32), nullable=False),
        sa.Column("auto_deliver_above", sa.Float(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_cluster_policies_updated_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("s3_area", name=op.f("pk_cluster_policies")),
    )


def downgrade() -> None:
    op.drop_table("cluster_policies")
