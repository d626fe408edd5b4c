"""The nightly CSV export: its projection (tenants' zones, members, memberships) and the
files it makes, kept in parts.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "export_tenants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("zone_at", UtcDateTime, nullable=True),
        sa.Column("next_key", sa.String(80), nullable=True),
    )
    op.create_table(
        "export_members",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("tags", sa.JSON, nullable=True),
        sa.Column("tags_at", UtcDateTime, nullable=True),
        sa.Column("profile_at", UtcDateTime, nullable=True),
        sa.Column("level", sa.Integer, nullable=True),
        sa.Column("level_name", sa.String(100), nullable=True),
        sa.Column("level_at", UtcDateTime, nullable=True),
        sa.Column("available", sa.BigInteger, nullable=True),
        sa.Column("pending", sa.BigInteger, nullable=True),
        sa.Column("lifetime", sa.BigInteger, nullable=True),
        sa.Column("debt", sa.BigInteger, nullable=True),
        sa.Column("balance_at", UtcDateTime, nullable=True),
    )
    op.create_table(
        "export_memberships",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(100), primary_key=True),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("status_at", UtcDateTime, nullable=True),
        sa.Column("tier", sa.String(50), nullable=True),
        sa.Column("tier_at", UtcDateTime, nullable=True),
        sa.Column("activated_at", UtcDateTime, nullable=True),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("term_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_export_memberships_member", "export_memberships", ["tenant_id", "member_id"]
    )
    op.create_table(
        "export_files",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(100), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_export_files_tenant", "export_files", ["tenant_id", "created_at", "id"])
    op.create_table(
        "export_parts",
        sa.Column("export_id", sa.String(40), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("export_parts")
    op.drop_index("ix_export_files_tenant", "export_files")
    op.drop_table("export_files")
    op.drop_index("ix_export_memberships_member", "export_memberships")
    op.drop_table("export_memberships")
    op.drop_table("export_members")
    op.drop_table("export_tenants")
