"""Content: scheduled and recurring posts, the daily digest, the communities' time zones.

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
    op.create_table(
        "recurring_posts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(500), nullable=False),
        sa.Column("start", sa.String(32), nullable=False),
        sa.Column("zones", sa.JSON, nullable=False),
        sa.Column("draft", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_recurring_posts_tenant", "recurring_posts", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "recurring_runs",
        sa.Column(
            "recurring_id", sa.String(36), sa.ForeignKey("recurring_posts.id"), primary_key=True
        ),
        sa.Column("zone", sa.String(64), primary_key=True),
        sa.Column("occurrence", UtcDateTime, primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("post_id", sa.String(36), nullable=True),
        sa.Column("failure", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )

    op.create_table(
        "digest_settings",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("local_time", sa.String(5), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "digests",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("post_id", sa.String(36), nullable=True),
        sa.Column("post_ids", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "digest_edits",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_edits")
    op.drop_table("digests")
    op.drop_table("digest_settings")
    op.drop_table("recurring_runs")
    op.drop_index("ix_recurring_posts_tenant", "recurring_posts")
    op.drop_table("recurring_posts")
    op.drop_index("ix_scheduled_posts_tenant", "scheduled_posts")
    op.drop_table("scheduled_posts")
    with op.batch_alter_table("audience_communities") as batch:
        batch.drop_column("timezone_at")
        batch.drop_column("timezone")
