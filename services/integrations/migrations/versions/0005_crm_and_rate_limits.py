"""CRM field mappings per tenant; a rate limit per webhook endpoint.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "crm_mappings",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("unmapped", sa.String(8), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    with op.batch_alter_table("webhook_endpoints") as table:
        table.add_column(sa.Column("rate_limit_per_s", sa.Float, nullable=True))
        table.add_column(sa.Column("next_send_at", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as table:
        table.drop_column("next_send_at")
        table.drop_column("rate_limit_per_s")
    op.drop_table("crm_mappings")
