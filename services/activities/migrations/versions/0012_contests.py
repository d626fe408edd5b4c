"""Contests and their awarded places.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "contests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("ends_at", UtcDateTime, nullable=False),
        sa.Column("awards", sa.JSON, nullable=False),
        sa.Column("ranked", sa.Integer, nullable=True),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sa.Column("cancelled_at", UtcDateTime, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_contests_tenant", "contests", ["tenant_id", "created_at"])
    op.create_table(
        "contest_awards",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("contest_id", sa.String(36), primary_key=True),
        sa.Column("place", sa.Integer, primary_key=True),
        sa.Column("award_id", sa.String(36), nullable=False, unique=True),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reached_at", UtcDateTime, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("badge", sa.String(200), nullable=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("awarded_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contest_awards")
    op.drop_table("contests")
