"""Auto-moderation: keyword and link rules, flood limits, the rule that held an item.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("moderation", sa.JSON, nullable=True))
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("moderation", sa.JSON, nullable=True))
    op.create_index(
        "ix_comments_tenant_author", "comments", ["tenant_id", "author_id", "created_at"]
    )
    op.create_table(
        "moderation_rules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pattern", sa.String(300), nullable=False),
        sa.Column("written", sa.String(200), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("strike", sa.Boolean, nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "kind", "pattern", name="uq_moderation_rules_pattern"),
    )
    op.create_index(
        "ix_moderation_rules_tenant", "moderation_rules", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "flood_limits",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("max_items", sa.Integer, nullable=True),
        sa.Column("window_seconds", sa.Integer, nullable=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("strike", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("flood_limits")
    op.drop_index("ix_moderation_rules_tenant", "moderation_rules")
    op.drop_table("moderation_rules")
    op.drop_index("ix_comments_tenant_author", "comments")
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("moderation")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("moderation")
