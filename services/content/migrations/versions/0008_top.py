"""Feed "top": views once per member, a stored engagement score with time decay.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from content.top.domain import Engagement, score
from servicekit.types import UtcDateTime

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("view_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("top_score", sa.Float, nullable=False, server_default="0"))
    op.create_index("ix_posts_tenant_top", "posts", ["tenant_id", "top_score", "id"])
    op.create_table(
        "post_views",
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("viewed_at", UtcDateTime, nullable=False),
    )
    _score_existing_posts()


def _score_existing_posts() -> None:
    bind = op.get_bind()
    posts = sa.table(
        "posts",
        sa.column("id", sa.String),
        sa.column("created_at", UtcDateTime),
        sa.column("like_count", sa.Integer),
        sa.column("bookmark_count", sa.Integer),
        sa.column("comment_count", sa.Integer),
        sa.column("share_count", sa.Integer),
        sa.column("top_score", sa.Float),
    )
    rows = bind.execute(sa.select(posts)).all()
    updates = [
        {
            "key": row.id,
            "value": score(
                Engagement(
                    likes=row.like_count,
                    bookmarks=row.bookmark_count,
                    comments=row.comment_count,
                    shares=row.share_count,
                ),
                row.created_at,
            ),
        }
        for row in rows
    ]
    if updates:
        bind.execute(
            posts.update()
            .where(posts.c.id == sa.bindparam("key"))
            .values(top_score=sa.bindparam("value")),
            updates,
        )


def downgrade() -> None:
    op.drop_table("post_views")
    op.drop_index("ix_posts_tenant_top", "posts")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("top_score")
        batch.drop_column("view_count")
