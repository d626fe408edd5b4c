"""Insights' tables: communities (zones, silence settings), community roles, the facts the
figures are computed from, and the presence and silences of members.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0003"
down_revision = "0002"

TABLES = (
    "insights_communities",
    "insights_grants",
    "insights_memberships",
    "insights_membership_events",
    "insights_engagements",
    "insights_points",
    "insights_presence",
    "insights_silences",
)


def upgrade() -> None:
    op.create_table(
        "insights_communities",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("zone_at", UtcDateTime, nullable=True),
        sa.Column("silent_after_days", sa.Integer, nullable=True),
        sa.Column("holdout_percent", sa.Integer, nullable=True),
    )
    op.create_table(
        "insights_grants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("grant_id", sa.String(200), primary_key=True),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_insights_grants_member", "insights_grants", ["tenant_id", "member_id"])
    op.create_table(
        "insights_memberships",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(200), primary_key=True),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("joined_at", UtcDateTime, nullable=True),
        sa.Column("join_day", sa.Date, nullable=True),
        sa.Column("source_kind", sa.String(32), nullable=True),
        sa.Column("source_code", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("status_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_insights_memberships_community",
        "insights_memberships",
        ["tenant_id", "community_id", "join_day"],
    )
    op.create_table(
        "insights_membership_events",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("at", UtcDateTime, primary_key=True),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_index(
        "ix_insights_membership_events_day",
        "insights_membership_events",
        ["tenant_id", "community_id", "day"],
    )
    op.create_table(
        "insights_engagements",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("ref", sa.String(200), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_index(
        "ix_insights_engagements_day",
        "insights_engagements",
        ["tenant_id", "community_id", "day", "member_id"],
    )
    op.create_table(
        "insights_points",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("entry_key", sa.String(300), primary_key=True),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("earned", sa.Integer, nullable=False),
        sa.Column("spent", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_index(
        "ix_insights_points_day", "insights_points", ["tenant_id", "community_id", "day"]
    )
    op.create_table(
        "insights_presence",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("last_engaged_at", UtcDateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("silent_since", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_insights_presence_silent",
        "insights_presence",
        ["tenant_id", "community_id", "silent_since"],
    )
    op.create_table(
        "insights_silences",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("silent_since", UtcDateTime, primary_key=True),
        sa.Column("held_out", sa.Boolean, nullable=False),
        sa.Column("reactivated_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_insights_silences_since",
        "insights_silences",
        ["tenant_id", "community_id", "silent_since"],
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
