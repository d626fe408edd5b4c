"""Versioned rules (群规), reports, sanctions, appeals.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("rules_version", sa.Integer, nullable=True))
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("muted_until", UtcDateTime, nullable=True))
        batch.add_column(
            sa.Column("rules_muted", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "community_rules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.String(20000), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=False),
        sa.Column("grace_days", sa.Integer, nullable=False),
        sa.Column("grace_ends_at", UtcDateTime, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("community_id", "version", name="uq_community_rules_version"),
    )
    op.create_table(
        "rules_acceptances",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("accepted_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "moderation_ladders",
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("strike_decay_days", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    _reports()
    _sanctions()
    op.create_table(
        "tenant_bans",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("sanction_id", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    _appeals()


def _reports() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("reporter_id", sa.String(200), nullable=False),
        sa.Column("target_kind", sa.String(10), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("text", sa.String(2000), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("open_key", sa.String(64), nullable=True),
        sa.Column("sanction_id", sa.String(36), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("resolution", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("tenant_id", "open_key", name="uq_reports_open"),
    )
    op.create_index("ix_reports_queue", "reports", ["tenant_id", "created_at", "id"])
    op.create_index(
        "ix_reports_community", "reports", ["tenant_id", "community_id", "status", "created_at"]
    )


def _sanctions() -> None:
    op.create_table(
        "sanctions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("membership_id", sa.String(36), sa.ForeignKey("memberships.id"), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("step", sa.Integer, nullable=True),
        sa.Column("ends_at", UtcDateTime, nullable=True),
        sa.Column("tenant_wide", sa.Boolean, nullable=False),
        sa.Column("report_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("restore", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("ended_by", sa.String(200), nullable=True),
        sa.Column("end_reason", sa.String(500), nullable=True),
    )
    op.create_index(
        "ix_sanctions_member",
        "sanctions",
        ["tenant_id", "community_id", "member_id", "created_at"],
    )
    op.create_index(
        "ix_sanctions_listing", "sanctions", ["tenant_id", "community_id", "created_at", "id"]
    )
    op.create_index("ix_sanctions_membership", "sanctions", ["membership_id", "status"])


def _appeals() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("sanction_id", sa.String(36), sa.ForeignKey("sanctions.id"), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("decided_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("sanction_id", name="uq_appeals_sanction"),
    )
    op.create_index("ix_appeals_queue", "appeals", ["tenant_id", "created_at", "id"])


def downgrade() -> None:
    for table in (
        "appeals",
        "tenant_bans",
        "sanctions",
        "reports",
        "moderation_ladders",
        "rules_acceptances",
        "community_rules",
    ):
        op.drop_table(table)
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("rules_muted")
        batch.drop_column("muted_until")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("rules_version")
