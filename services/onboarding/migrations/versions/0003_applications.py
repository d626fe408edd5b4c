"""Application questionnaires on communities, and the applications themselves.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("communities", sa.Column("application_form", sa.JSON, nullable=True))
    op.create_table(
        "applications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("membership_id", sa.String(36), sa.ForeignKey("memberships.id"), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("auto", sa.Boolean, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("decided_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_applications_queue", "applications", ["tenant_id", "status", "created_at", "id"]
    )
    op.create_index("ix_applications_membership", "applications", ["membership_id", "created_at"])


def downgrade() -> None:
    op.drop_table("applications")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("application_form")
