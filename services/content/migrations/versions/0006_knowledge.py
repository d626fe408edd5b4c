"""Knowledge base: the search index (1- and 2-grams), tags as rows, 精华, collections.
Posts written before this revision are indexed here.

Revision ID: 0006
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

from content.knowledge.domain import grams
from servicekit.types import UtcDateTime

revision = "0006"
down_revision = "0005"

TABLES = ("post_grams", "post_tags", "post_features", "collections", "collection_posts")


def upgrade() -> None:
    op.create_table(
        "post_grams",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("gram", sa.String(8), primary_key=True),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    )
    op.create_index("ix_post_grams_post", "post_grams", ["post_id"])
    op.create_table(
        "post_tags",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("tag", sa.String(32), primary_key=True),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    )
    op.create_index("ix_post_tags_post", "post_tags", ["post_id"])
    op.create_table(
        "post_features",
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("featured_by", sa.String(200), nullable=False),
        sa.Column("featured_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_post_features_tenant", "post_features", ["tenant_id", "featured_at", "post_id"]
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "community_id", "name", name="uq_collections_name"),
    )
    op.create_table(
        "collection_posts",
        sa.Column(
            "collection_id", sa.String(36), sa.ForeignKey("collections.id"), primary_key=True
        ),
        sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_collection_posts_order", "collection_posts", ["collection_id", "added_at", "post_id"]
    )
    _index_existing_posts()


def _index_existing_posts() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, tenant_id, title, body, tags FROM posts")).all()
    gram_rows: list[dict[str, str]] = []
    tag_rows: list[dict[str, str]] = []
    for post_id, tenant_id, title, body, tags in rows:
        tags = _tags(tags)
        for gram in grams(title or "", body, *tags):
            gram_rows.append({"t": tenant_id, "g": gram, "p": post_id})
        for tag in dict.fromkeys(tags):
            tag_rows.append({"t": tenant_id, "g": tag, "p": post_id})
    if gram_rows:
        bind.execute(
            sa.text("INSERT INTO post_grams (tenant_id, gram, post_id) VALUES (:t, :g, :p)"),
            gram_rows,
        )
    if tag_rows:
        bind.execute(
            sa.text("INSERT INTO post_tags (tenant_id, tag, post_id) VALUES (:t, :g, :p)"),
            tag_rows,
        )


def _tags(value: object) -> list[str]:
    """The JSON column as the raw driver returns it: a list (psycopg) or text (SQLite)."""
    if isinstance(value, list):
        return [str(tag) for tag in value]
    return [str(tag) for tag in json.loads(str(value or "[]"))]


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
