"""a second vector per posting from the multilingual encoder, with the model that made it

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("embeddings") as batch_op:
        batch_op.add_column(sa.Column("multi_vector", sa.LargeBinary(), nullable=True))
        # "" until the posting is embedded by the second encoder: `reindex` sees it as stale.
        batch_op.add_column(sa.Column("multi_model", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("embeddings") as batch_op:
        batch_op.drop_column("multi_model")
        batch_op.drop_column("multi_vector")
