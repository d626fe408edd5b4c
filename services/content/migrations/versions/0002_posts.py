"""Content's first slice: the audience projection, posts, review, engagement.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0002"
down_revision = "0001"

TABLES = (
    "audience_memberships",
    "audience_communities",
    "audience_levels",
    "audience_groups",
    "audience_roles",
    "posts",
    "post_communities",
    "post_revisions",
    "live_updates",
    "community_settings",
    "comments",
    "post_marks",
    "shares",
)


def upgrade() -> None:
    op.create_table(
        "audience_memberships",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", UtcDateTime, nullable=False),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("group_id", sa.String(200), nullable=True),
        sa.Column("placed_at", UtcDateTime, nullable=True),
        sa.Column("muted_until", UtcDateTime, nullable=True),
        sa.Column("rules_muted", sa.Boolean, nullable=False),
        sa.Column("mute_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_audience_memberships_member", "audience_memberships", ["tenant_id", "member_id"]
    )
    op.create_table(
        "audience_communities",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "audience_levels",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "audience_groups",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("group_id", sa.String(200), primary_key=True),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_table(
        "audience_roles",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("grant_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
    )
    op.create_index("ix_audience_roles_member", "audience_roles", ["tenant_id", "member_id"])
    op.create_table(
        "posts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("author_id", sa.String(200), nullable=False),
        sa.Column("author_kind", sa.String(16), nullable=False),  # operator | member
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("media", sa.JSON, nullable=False),
        sa.Column("link", sa.JSON, nullable=True),
        sa.Column("audience", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),  # an announcement (群公告)
        sa.Column("review_state", sa.String(16), nullable=False),
        sa.Column("review_reason", sa.String(500), nullable=True),
        sa.Column("reviewed_by", sa.String(200), nullable=True),
        sa.Column("reviewed_at", UtcDateTime, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("deleted_at", UtcDateTime, nullable=True),
        sa.Column("deleted_by", sa.String(200), nullable=True),
        sa.Column("delete_reason", sa.String(500), nullable=True),
        sa.Column("comment_count", sa.Integer, nullable=False),
        sa.Column("like_count", sa.Integer, nullable=False),
        sa.Column("share_count", sa.Integer, nullable=False),
        sa.Column("bookmark_count", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "comment_count >= 0 AND like_count >= 0 AND share_count >= 0 AND bookmark_count >= 0",
            name="ck_posts_counters",
        ),
    )
    op.create_index("ix_posts_tenant_created", "posts", ["tenant_id", "created_at", "id"])
    op.create_index(
        "ix_posts_tenant_review", "posts", ["tenant_id", "review_state", "created_at", "id"]
    )
    op.create_index(
        "ix_posts_tenant_author", "posts", ["tenant_id", "author_id", "created_at", "id"]
    )
    op.create_table(
        "post_communities",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_post_communities_community",
        "post_communities",
        ["tenant_id", "community_id", "created_at", "post_id"],
    )
    op.create_table(
        "post_revisions",
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("media", sa.JSON, nullable=False),
        sa.Column("link", sa.JSON, nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("edited_by", sa.String(200), nullable=False),
        sa.Column("edited_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "live_updates",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("media", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_live_updates_post", "live_updates", ["post_id", "created_at", "id"])
    op.create_table(
        "community_settings",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("community_id", sa.String(200), primary_key=True),
        # Members at this level or above publish without review; null: everything is reviewed.
        sa.Column("auto_approve_level", sa.Integer, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=True),  # one level of replies
        sa.Column("author_id", sa.String(200), nullable=False),
        sa.Column("author_kind", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),  # the seat it went through
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("review_state", sa.String(16), nullable=False),
        sa.Column("review_reason", sa.String(500), nullable=True),
        sa.Column("reviewed_by", sa.String(200), nullable=True),
        sa.Column("reviewed_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_comments_post", "comments", ["post_id", "created_at", "id"])
    op.create_index(
        "ix_comments_tenant_review", "comments", ["tenant_id", "review_state", "created_at", "id"]
    )
    op.create_table(
        "post_marks",
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),  # like | bookmark
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_post_marks_member", "post_marks", ["tenant_id", "member_id", "kind", "created_at"]
    )
    op.create_table(
        "shares",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("sharer_id", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("post_id", "sharer_id", name="uq_shares_post_sharer"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
