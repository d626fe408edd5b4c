"""The projection's tiers (onboarding's membership events) and levels (rewards'
level.changed), and draws limited by them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("members_memberships") as batch:
        batch.add_column(sa.Column("tier", sa.String(64), nullable=True))
        batch.add_column(sa.Column("tier_at", UtcDateTime, nullable=True))
    op.create_table(
        "members_levels",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("level_at", UtcDateTime, nullable=False),
    )
    with op.batch_alter_table("draws") as batch:
        batch.add_column(sa.Column("min_level", sa.Integer, nullable=True))
        batch.add_column(sa.Column("tiers", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("draws") as batch:
        batch.drop_column("tiers")
        batch.drop_column("min_level")
    op.drop_table("members_levels")
    with op.batch_alter_table("members_memberships") as batch:
        batch.drop_column("tier_at")
        batch.drop_column("tier")
