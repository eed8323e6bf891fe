"""delivery outbox: one row per notification and channel

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", api.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", api.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_deliveries_recipient_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "notification_id", "channel", name=op.f("uq_deliveries_notification_id_channel")
        ),
    )
    op.create_index("ix_deliveries_status", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_recipient", "deliveries", ["recipient_id", "channel", "status"])
    # Notifications still waiting for a daily digest keep waiting, now as deferred deliveries;
    # the rest were already decided (sent or skipped) and get no row, so nothing is re-sent.
    op.execute(
        "INSERT INTO deliveries (notification_id, recipient_id, channel, status, attempts,"
        " next_attempt_at, created_at, updated_at)"
        " SELECT id, recipient_id, 'email', 'deferred', 0, created_at, created_at, created_at"
        " FROM notifications WHERE email_status = 'queued'"
    )
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("emailed_at")
        batch_op.drop_column("email_status")


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("email_status", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("emailed_at", api.models.base.UTCDateTime(timezone=True), nullable=True))
    op.drop_index("ix_deliveries_recipient", table_name="deliveries")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_table("deliveries")
