"""Meetups and their registrations; referral campaigns, invited joins and progress;
talks' question queues.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "meetups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("venue", sa.String(500), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("cost_points", sa.Integer, nullable=False),
        sa.Column("selection", sa.String(16), nullable=False),
        sa.Column("questions", sa.JSON, nullable=False),
        sa.Column("opens_at", UtcDateTime, nullable=False),
        sa.Column("closes_at", UtcDateTime, nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("ends_at", UtcDateTime, nullable=False),
        sa.Column("confirm_hours", sa.Integer, nullable=False),
        sa.Column("held", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("last_seat", sa.Integer, nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("seed_hash", sa.String(64), nullable=False),
        sa.Column("drawn_at", UtcDateTime, nullable=True),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("held >= 0 AND held <= capacity", name="ck_meetups_held"),
    )
    op.create_index("ix_meetups_tenant", "meetups", ["tenant_id", "created_at"])
    op.create_table(
        "meetup_registrations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("meetup_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queue_pos", sa.Integer, nullable=True),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("registered_at", UtcDateTime, nullable=False),
        sa.Column("confirm_by", UtcDateTime, nullable=True),
        sa.Column("changed_at", UtcDateTime, nullable=False),
        sa.Column("paid_points", sa.Integer, nullable=False),
        sa.UniqueConstraint("tenant_id", "meetup_id", "member_id", name="uq_meetup_reg_member"),
        sa.UniqueConstraint("tenant_id", "meetup_id", "number", name="uq_meetup_reg_number"),
    )
    op.create_index(
        "ix_meetup_reg_status",
        "meetup_registrations",
        ["tenant_id", "meetup_id", "status", "queue_pos"],
    )

    op.create_table(
        "referral_joins",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(200), primary_key=True),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("inviter_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("activated_at", UtcDateTime, nullable=False),
        sa.Column("paid", sa.Boolean, nullable=False),
        sa.Column("window_ends_at", UtcDateTime, nullable=True),
        sa.Column("refunded_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_referral_joins_inviter", "referral_joins", ["tenant_id", "community_id", "inviter_id"]
    )
    op.create_index(
        "ix_referral_joins_member", "referral_joins", ["tenant_id", "community_id", "member_id"]
    )
    op.create_table(
        "referral_campaigns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("ends_at", UtcDateTime, nullable=False),
        sa.Column("counting", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("daily_cap", sa.Integer, nullable=False),
        sa.Column("tiers", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_referral_campaigns_community", "referral_campaigns", ["tenant_id", "community_id"]
    )
    op.create_table(
        "referral_progress",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("counted", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("last_counted_at", UtcDateTime, nullable=True),
        sa.Column("converted", sa.JSON, nullable=False),
        sa.Column("granted", sa.JSON, nullable=False),
        sa.Column("grants", sa.Integer, nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("cleared_at", UtcDateTime, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_referral_progress_board", "referral_progress", ["tenant_id", "campaign_id", "counted"]
    )

    op.create_table(
        "talks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("guests", sa.JSON, nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("ends_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_talks_tenant", "talks", ["tenant_id", "created_at"])
    op.create_table(
        "talk_questions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("talk_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("votes", sa.Integer, nullable=False),
        sa.Column("asked_at", UtcDateTime, nullable=False),
        sa.Column("marked_at", UtcDateTime, nullable=True),
        sa.CheckConstraint("votes >= 0", name="ck_talk_questions_votes"),
    )
    op.create_index(
        "ix_talk_questions_queue",
        "talk_questions",
        ["tenant_id", "talk_id", "status", "votes"],
    )
    op.create_table(
        "talk_votes",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("question_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("voted_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("talk_votes")
    op.drop_table("talk_questions")
    op.drop_table("talks")
    op.drop_table("referral_progress")
    op.drop_table("referral_campaigns")
    op.drop_table("referral_joins")
    op.drop_table("meetup_registrations")
    op.drop_table("meetups")
