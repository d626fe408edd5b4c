"""Polls and their votes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("max_choices", sa.Integer, nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("changeable", sa.Boolean, nullable=False),
        sa.Column("results", sa.String(16), nullable=False),
        sa.Column("closes_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_polls_tenant", "polls", ["tenant_id", "created_at"])
    op.create_table(
        "poll_votes",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("poll_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("choices", sa.JSON, nullable=False),
        sa.Column("voted_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("poll_votes")
    op.drop_table("polls")
