"""Newcomer sequences (SOP): sequences, their runs per membership, the steps reached.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_sequences_tenant", "sequences", ["tenant_id", "trigger"])
    op.create_table(
        "sequence_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("sequence_id", sa.String(36), sa.ForeignKey("sequences.id"), nullable=False),
        sa.Column("membership_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_step", sa.Integer, nullable=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("stop_reason", sa.String(32), nullable=True),
        sa.UniqueConstraint("sequence_id", "membership_id", name="uq_sequence_runs_membership"),
    )
    op.create_index("ix_sequence_runs_membership", "sequence_runs", ["tenant_id", "membership_id"])
    op.create_table(
        "sequence_steps",
        sa.Column("run_id", sa.String(36), sa.ForeignKey("sequence_runs.id"), primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("sequence_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_sequence_steps_sequence", "sequence_steps", ["sequence_id", "step", "outcome"]
    )


def downgrade() -> None:
    for table in ("sequence_steps", "sequence_runs", "sequences"):
        op.drop_table(table)
