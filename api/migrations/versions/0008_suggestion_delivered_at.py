"""when a suggestion first reached the parties (a withdrawn one stays visible only if it had)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions") as batch_op:
        batch_op.add_column(sa.Column("delivered_at", api.models.base.UTCDateTime(timezone=True), nullable=True))
    # Answered pairs had reached the parties; a withdrawn one had if its parties were told of it.
    op.execute(
        "UPDATE suggestions SET delivered_at = COALESCE(reviewed_at, created_at) "
        "WHERE status IN ('delivered', 'introduced', 'declined')"
    )
    op.execute(
        "UPDATE suggestions SET delivered_at = created_at WHERE status = 'withdrawn' AND EXISTS ("
        "SELECT 1 FROM notifications WHERE notifications.kind = 'suggestion.new' "
        "AND notifications.dedupe_key LIKE 'suggestion:' || suggestions.id || ':new:%')"
    )


def downgrade() -> None:
    with op.batch_alter_table("suggestions") as batch_op:
        batch_op.drop_column("delivered_at")
