"""Who made each operator adjustment, and the tenant-wide adjustments trail.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("entries", sa.Column("actor_id", sa.String(200), nullable=True))
    op.create_index("ix_entries_tenant_kind", "entries", ["tenant_id", "kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_entries_tenant_kind", table_name="entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("actor_id")
