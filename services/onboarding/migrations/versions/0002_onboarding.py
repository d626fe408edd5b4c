"""Members, communities, groups, routing codes, memberships, payments.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0002"
down_revision = "0001"


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), primary_key=True)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(36), nullable=False)


def upgrade() -> None:
    op.create_table(
        "members",
        _id(),
        _tenant(),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "external_id", name="uq_members_external"),
    )
    op.create_table(
        "communities",
        _id(),
        _tenant(),
        sa.Column("slug", sa.String(60), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(4000), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("join_policy", sa.String(20), nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("term_kind", sa.String(10), nullable=True),
        sa.Column("term_days", sa.Integer, nullable=True),
        sa.Column("term_fixed_ends_at", UtcDateTime, nullable=True),
        sa.Column("trial_days", sa.Integer, nullable=False),
        sa.Column("refund_window_hours", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "slug", name="uq_communities_slug"),
        sa.CheckConstraint("price_cents IS NULL OR price_cents > 0", name="ck_communities_price"),
    )
    op.create_index("ix_communities_tenant_id", "communities", ["tenant_id"])
    op.create_table(
        "groups",
        _id(),
        _tenant(),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column("routing_code_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("community_id", "name", name="uq_groups_name"),
        sa.CheckConstraint("member_count >= 0", name="ck_groups_count_positive"),
        sa.CheckConstraint("member_count <= capacity", name="ck_groups_capacity"),
        sa.CheckConstraint("capacity > 0", name="ck_groups_capacity_positive"),
    )
    op.create_index("ix_groups_community_id", "groups", ["community_id"])
    op.create_table(
        "routing_codes",
        _id(),
        _tenant(),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("group_ids", sa.JSON, nullable=False),
        sa.Column("overflow_prefix", sa.String(150), nullable=False),
        sa.Column("overflow_kind", sa.String(20), nullable=False),
        sa.Column("overflow_capacity", sa.Integer, nullable=False),
        sa.Column("overflow_count", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "code", name="uq_routing_codes_code"),
    )
    op.create_index("ix_routing_codes_community_id", "routing_codes", ["community_id"])
    op.create_table(
        "memberships",
        _id(),
        _tenant(),
        sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("group_id", sa.String(36), sa.ForeignKey("groups.id"), nullable=True),
        sa.Column("routing_code_id", sa.String(36), nullable=True),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source_code", sa.String(64), nullable=True),
        sa.Column("source_channel", sa.String(100), nullable=True),
        sa.Column("inviter_id", sa.String(200), nullable=True),
        sa.Column("trial_used", sa.Boolean, nullable=False),
        sa.Column("activated_at", UtcDateTime, nullable=True),
        sa.Column("term_ends_at", UtcDateTime, nullable=True),
        sa.Column("refund_window_ends_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("status_changed_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "community_id", "member_id", name="uq_memberships_member"),
    )
    op.create_index(
        "ix_memberships_listing", "memberships", ["tenant_id", "community_id", "created_at", "id"]
    )
    op.create_index("ix_memberships_member", "memberships", ["tenant_id", "member_id"])
    op.create_table(
        "payments",
        _id(),
        _tenant(),
        sa.Column("membership_id", sa.String(36), sa.ForeignKey("memberships.id"), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("paid_at", UtcDateTime, nullable=False),
        sa.Column("refund_window_ends_at", UtcDateTime, nullable=False),
        sa.Column("refunded_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("tenant_id", "reference", name="uq_payments_reference"),
    )
    op.create_index("ix_payments_membership_id", "payments", ["membership_id"])


def downgrade() -> None:
    for table in ("payments", "memberships", "routing_codes", "groups", "communities", "members"):
        op.drop_table(table)
