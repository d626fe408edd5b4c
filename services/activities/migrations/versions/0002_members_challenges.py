"""Activities' first slice: the membership projection and check-in challenges.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0002"
down_revision = "0001"

TABLES = (
    "members_memberships",
    "members_communities",
    "challenges",
    "checkins",
    "challenge_participants",
)


def upgrade() -> None:
    op.create_table(
        "members_memberships",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", UtcDateTime, nullable=True),
        sa.Column("group_id", sa.String(200), nullable=True),
        sa.Column("placed_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_members_memberships_member",
        "members_memberships",
        ["tenant_id", "member_id", "community_id"],
    )
    op.create_table(
        "members_communities",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("zone_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "challenges",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(200), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("rules_text", sa.Text, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("window_start", sa.Time, nullable=True),
        sa.Column("window_end", sa.Time, nullable=True),
        sa.Column("requires", sa.JSON, nullable=False),
        sa.Column("min_text_length", sa.Integer, nullable=False),
        sa.Column("required_days", sa.Integer, nullable=False),
        sa.Column("makeup_cards", sa.Integer, nullable=False),
        sa.Column("makeup_days", sa.Integer, nullable=False),
        sa.Column("grace_days", sa.Integer, nullable=False),
        sa.Column("milestones", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_challenges_tenant_community", "challenges", ["tenant_id", "community_id"])
    op.create_table(
        "checkins",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("challenge_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("make_up", sa.Boolean, nullable=False),
        sa.Column("checked_at", UtcDateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("images", sa.JSON, nullable=False),
        sa.Column("link", sa.String(2000), nullable=True),
        sa.Column("number", sa.Float, nullable=True),
        sa.UniqueConstraint(
            "tenant_id", "challenge_id", "member_id", "day", name="uq_checkins_member_day"
        ),
    )
    op.create_index(
        "ix_checkins_day", "checkins", ["tenant_id", "challenge_id", "day", "checked_at"]
    )
    op.create_table(
        "challenge_participants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("challenge_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("streak", sa.Integer, nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("best_streak", sa.Integer, nullable=False),
        sa.Column("makeups_used", sa.Integer, nullable=False),
        sa.Column("milestones", sa.JSON, nullable=False),
        sa.Column("first_at", UtcDateTime, nullable=False),
        sa.Column("completed_at", UtcDateTime, nullable=True),
        sa.CheckConstraint("makeups_used >= 0", name="ck_participants_makeups"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
