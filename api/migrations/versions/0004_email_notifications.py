"""e-mail preferences and delivery state

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email_frequency", sa.String(length=8), nullable=False, server_default="instant"))
        batch_op.add_column(sa.Column("last_digest_at", api.models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("email_status", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("emailed_at", api.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("emailed_at")
        batch_op.drop_column("email_status")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("last_digest_at")
        batch_op.drop_column("email_frequency")
