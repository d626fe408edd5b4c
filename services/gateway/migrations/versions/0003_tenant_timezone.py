"""Tenants get a time zone: the tenant's local days (tenant-wide figures) and the
fallback for communities whose zone a service does not know yet.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # Existing tenants get onboarding's default zone for communities.
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai")
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("timezone")
