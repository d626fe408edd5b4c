"""Invite codes, and the target group an invite gives a membership.

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
        "invite_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("inviter_id", sa.String(200), nullable=True),
        sa.Column("target_group_id", sa.String(36), sa.ForeignKey("groups.id"), nullable=True),
        sa.Column("max_uses", sa.Integer, nullable=True),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "code", name="uq_invite_codes_code"),
        sa.CheckConstraint("max_uses IS NULL OR max_uses > 0", name="ck_invite_codes_max_positive"),
        sa.CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="ck_invite_codes_uses"),
    )
    op.create_index(
        "ix_invite_codes_listing", "invite_codes", ["tenant_id", "community_id", "created_at", "id"]
    )
    # A plain column (no foreign key): SQLite would rebuild the memberships table for one.
    # Invites check the group when they are created, and groups are never deleted.
    op.add_column("memberships", sa.Column("target_group_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("target_group_id")
    op.drop_table("invite_codes")
