"""Level-gated communities and the local projection of rewards' levels.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("communities", sa.Column("min_level", sa.Integer, nullable=True))
    op.create_table(
        "member_levels",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("member_levels")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("min_level")
