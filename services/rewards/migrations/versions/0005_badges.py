"""Badges and titles: rules, members' progress (and badges earned), counted occurrences.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # Default badge rules are written lazily, on a tenant's next event (rewards.badges).
    op.create_table(
        "badge_tenants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("set_up_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "badge_rules",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_badge_rules_tenant_type", "badge_rules", ["tenant_id", "event_type", "archived"]
    )
    op.create_index(
        "ix_badge_rules_tenant_created", "badge_rules", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "badge_progress",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("rule_id", sa.String(36), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("times", sa.Integer, nullable=False),
        sa.Column("first_awarded_at", UtcDateTime, nullable=True),
        sa.Column("last_awarded_at", UtcDateTime, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("times >= 0", name="ck_badge_progress_times"),
    )
    op.create_table(
        "badge_marks",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("badge_marks", "badge_progress", "badge_rules", "badge_tenants"):
        op.drop_table(table)
