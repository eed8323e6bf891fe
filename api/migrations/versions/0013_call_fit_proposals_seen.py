"""call fits remember when consortium proposals last took them into account (a burst of fits
for one call is then proposed from once, and a lost proposal job is found again)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_fits") as batch_op:
        batch_op.add_column(sa.Column("proposals_seen_at", api.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_call_fits_unseen", ["proposals_seen_at", "call_id"])


def downgrade() -> None:
    with op.batch_alter_table("call_fits") as batch_op:
        batch_op.drop_index("ix_call_fits_unseen")
        batch_op.drop_column("proposals_seen_at")
