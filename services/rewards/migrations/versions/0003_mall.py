"""Points mall: catalog items and redemptions.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cost", sa.BigInteger, nullable=False),
        sa.Column("stock", sa.BigInteger, nullable=False),
        sa.Column("per_member_limit", sa.Integer, nullable=True),
        sa.Column("min_level", sa.Integer, nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("active_from", UtcDateTime, nullable=True),
        sa.Column("active_until", UtcDateTime, nullable=True),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_catalog_items_stock"),
        sa.CheckConstraint("cost > 0", name="ck_catalog_items_cost"),
    )
    op.create_index(
        "ix_catalog_items_tenant_created", "catalog_items", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("catalog_items.id"), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("request_key", sa.String(255), nullable=False),
        sa.Column("item_name", sa.String(200), nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("allocations", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("reference", sa.String(500), nullable=True),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("tenant_id", "member_id", "request_key", name="uq_redemptions_request"),
    )
    op.create_index(
        "ix_redemptions_member_item", "redemptions", ["tenant_id", "member_id", "item_id", "status"]
    )
    op.create_index(
        "ix_redemptions_member_created",
        "redemptions",
        ["tenant_id", "member_id", "created_at", "id"],
    )
    op.create_index(
        "ix_redemptions_status_created", "redemptions", ["tenant_id", "status", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_table("redemptions")
    op.drop_table("catalog_items")
