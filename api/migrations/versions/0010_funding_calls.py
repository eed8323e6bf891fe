"""funding calls, their fits with postings, consortium proposals and deadline reminders

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import api.models.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = api.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("programme", sa.String(length=24), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("opens_at", UTC, nullable=False),
        sa.Column("deadline", UTC, nullable=False),
        sa.Column("s3_areas", sa.JSON(), nullable=False),
        sa.Column("area_required", sa.Boolean(), nullable=False),
        sa.Column("eligible_types", sa.JSON(), nullable=False),
        sa.Column("trl_min", sa.Integer(), nullable=True),
        sa.Column("trl_max", sa.Integer(), nullable=True),
        sa.Column("budget_min", sa.Integer(), nullable=True),
        sa.Column("budget_max", sa.Integer(), nullable=True),
        sa.Column("consortium_rule", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=120), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("pipeline_state", sa.String(length=16), nullable=False),
        sa.Column("pipeline_error", sa.Text(), nullable=True),
        sa.Column("pipeline_attempts", sa.Integer(), nullable=False),
        sa.Column("pipeline_updated_at", UTC, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("head_vector", sa.LargeBinary(), nullable=True),
        sa.Column("passage_vectors", sa.LargeBinary(), nullable=True),
        sa.Column("multi_vector", sa.LargeBinary(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("multi_model", sa.String(length=200), nullable=False),
        sa.Column("embedded_revision", sa.Integer(), nullable=True),
        sa.Column("unmet_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_calls_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("external_id", name=op.f("uq_calls_external_id")),
    )
    op.create_index("ix_calls_status_deadline", "calls", ["status", "deadline"])

    op.create_table(
        "call_fits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("call_revision", sa.Integer(), nullable=False),
        sa.Column("notified_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_fits_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_call_fits_posting_id_postings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_call_fits_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_fits")),
        sa.UniqueConstraint("call_id", "posting_id", name=op.f("uq_call_fits_call_id_posting_id")),
    )
    op.create_index("ix_call_fits_posting", "call_fits", ["posting_id"])

    op.create_table(
        "consortia",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("member_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_consortia_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_consortia_reviewed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortia")),
        sa.UniqueConstraint("call_id", "member_key", name=op.f("uq_consortia_call_id_member_key")),
    )
    op.create_index("ix_consortia_status", "consortia", ["status"])

    op.create_table(
        "consortium_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consortium_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=True),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["consortium_id"],
            ["consortia.id"],
            name=op.f("fk_consortium_members_consortium_id_consortia"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_consortium_members_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["postings.id"],
            name=op.f("fk_consortium_members_posting_id_postings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortium_members")),
        sa.UniqueConstraint(
            "consortium_id",
            "organisation_id",
            name=op.f("uq_consortium_members_consortium_id_organisation_id"),
        ),
    )

    op.create_table(
        "call_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_reminders_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_reminders")),
        sa.UniqueConstraint("call_id", "days_before", name=op.f("uq_call_reminders_call_id_days_before")),
    )


def downgrade() -> None:
    op.drop_table("call_reminders")
    op.drop_table("consortium_members")
    op.drop_index("ix_consortia_status", table_name="consortia")
    op.drop_table("consortia")
    op.drop_index("ix_call_fits_posting", table_name="call_fits")
    op.drop_table("call_fits")
    op.drop_index("ix_calls_status_deadline", table_name="calls")
    op.drop_table("calls")
