"""postings remember the revision last matched with the open funding calls (a calls job lost on
the way, Redis down at the match's commit, is found again by the reconciler)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postings") as batch_op:
        batch_op.add_column(sa.Column("calls_matched_revision", sa.Integer(), nullable=True))
    # What was matched before this revision is taken as done: no storm of calls jobs at upgrade.
    op.execute("UPDATE postings SET calls_matched_revision = revision WHERE pipeline_state = 'matched'")


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch_op:
        batch_op.drop_column("calls_matched_revision")
