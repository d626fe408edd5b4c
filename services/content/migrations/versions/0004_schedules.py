"""Content: scheduled posts, and the communities' time zones in the projection.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("audience_communities") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("timezone_at", UtcDateTime, nullable=True))
    op.create_table(
        "scheduled_posts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("publish_at", UtcDateTime, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("draft", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("post_id", sa.String(36), nullable=True),
        sa.Column("failure", sa.String(500), nullable=True),
    )
    op.create_index(
        "ix_scheduled_posts_tenant", "scheduled_posts", ["tenant_id", "publish_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_posts_tenant", "scheduled_posts")
    op.drop_table("scheduled_posts")
    with op.batch_alter_table("audience_communities") as batch:
        batch.drop_column("timezone_at")
        batch.drop_column("timezone")
