"""Community roles, titles and mentors.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(
            sa.Column("guest_speaker_limit", sa.Integer, nullable=False, server_default="10")
        )
        batch.add_column(sa.Column("welcome_template", sa.String(2000), nullable=True))
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("mentor_id", sa.String(200), nullable=True))
    op.create_table(
        "community_roles",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("group_id", sa.String(36), sa.ForeignKey("groups.id"), nullable=True),
        sa.Column("title", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoke_reason", sa.String(500), nullable=True),
    )
    op.create_index(
        "ix_community_roles_holder", "community_roles", ["tenant_id", "community_id", "member_id"]
    )
    op.create_index(
        "ix_community_roles_listing",
        "community_roles",
        ["tenant_id", "community_id", "granted_at", "id"],
    )
    op.create_index(
        "ix_community_roles_member",
        "community_roles",
        ["tenant_id", "member_id", "granted_at", "id"],
    )
    op.create_table(
        "mentor_rotations",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(36), primary_key=True),
        sa.Column("last_granted_at", UtcDateTime, nullable=True),
        sa.Column("last_grant_id", sa.String(36), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mentor_rotations")
    op.drop_table("community_roles")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("mentor_id")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("welcome_template")
        batch.drop_column("guest_speaker_limit")
