"""Lucky draws: draws, their entries and their wins.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "draws",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(200), nullable=True),
        sa.Column("challenge_id", sa.String(36), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("prizes", sa.JSON, nullable=False),
        sa.Column("miss_weight", sa.Integer, nullable=False),
        sa.Column("claim_days", sa.Integer, nullable=False),
        sa.Column("opens_at", UtcDateTime, nullable=False),
        sa.Column("closes_at", UtcDateTime, nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("seed_hash", sa.String(64), nullable=False),
        sa.Column("drawn_at", UtcDateTime, nullable=True),
        sa.Column("entrants", sa.Integer, nullable=False),
        sa.Column("redraws", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_draws_tenant", "draws", ["tenant_id", "created_at"])
    op.create_table(
        "draw_entries",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("draw_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("entered_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "draw_wins",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("draw_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("win_id", sa.String(36), nullable=False, unique=True),
        sa.Column("prize", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),  # order drawn in the round
        sa.Column("won_at", UtcDateTime, nullable=False),
        sa.Column("claim_by", UtcDateTime, nullable=False),
        sa.Column("claimed_at", UtcDateTime, nullable=True),
        sa.Column("given_back_at", UtcDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("draw_wins")
    op.drop_table("draw_entries")
    op.drop_table("draws")
