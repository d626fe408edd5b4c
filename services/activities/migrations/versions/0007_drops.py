"""Point drops (红包) and their claims.

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
        "drops",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(200), nullable=True),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("total_points", sa.Integer, nullable=False),
        sa.Column("slots", sa.Integer, nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("min_points", sa.Integer, nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("shares", sa.JSON, nullable=False),
        sa.Column("claimed", sa.Integer, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("expired_at", UtcDateTime, nullable=True),
        sa.Column("returned_points", sa.Integer, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("claimed >= 0 AND claimed <= slots", name="ck_drops_claimed"),
    )
    op.create_index("ix_drops_tenant", "drops", ["tenant_id", "created_at"])
    op.create_table(
        "drop_claims",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("drop_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("claim_id", sa.String(36), nullable=False, unique=True),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("claimed_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "drop_id", "slot", name="uq_drop_claims_slot"),
    )


def downgrade() -> None:
    op.drop_table("drop_claims")
    op.drop_table("drops")
