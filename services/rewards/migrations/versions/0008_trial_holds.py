"""A trial's join points are held until it is paid; reversals name what they reverse.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch:  # SQLite rebuilds the table
        batch.alter_column("available_at", existing_type=UtcDateTime(), nullable=True)
    op.add_column("entries", sa.Column("reverses_entry_id", sa.BigInteger, nullable=True))
    op.create_table(
        "membership_outcomes",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("membership_id", sa.String(200), primary_key=True),
        sa.Column("forfeited_at", UtcDateTime(), nullable=True),
        sa.Column("paid_window_ends_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("membership_outcomes")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("reverses_entry_id")
    # Held lots keep waiting, with no timer, as the old code would leave them.
    op.execute("UPDATE lots SET available_at = earned_at WHERE available_at IS NULL")
    with op.batch_alter_table("lots") as batch:
        batch.alter_column("available_at", existing_type=UtcDateTime(), nullable=False)
