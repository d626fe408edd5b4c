"""Member import, community settings, group requirements, renewal reminders.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(
            sa.Column("value_statement", sa.String(1000), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("settings", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("renewal_reminder_days", sa.JSON, nullable=False, server_default="[7, 1]")
        )
        batch.add_column(sa.Column("auto_upgrade", sa.JSON, nullable=True))
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("min_tier", sa.String(20), nullable=True))
        batch.add_column(sa.Column("min_level", sa.Integer, nullable=True))
        batch.add_column(sa.Column("city", sa.String(100), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON, nullable=False, server_default="[]"))
    op.create_index("ix_members_listing", "members", ["tenant_id", "created_at", "id"])
    op.create_table(
        "member_tags",
        sa.Column(
            "member_id",
            sa.String(36),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(50), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_member_tags_tag", "member_tags", ["tenant_id", "tag", "member_id"])
    op.create_table(
        "renewal_reminders",
        sa.Column("membership_id", sa.String(36), primary_key=True),
        sa.Column("term_ends_at", UtcDateTime, primary_key=True),
        sa.Column("days_before", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("renewal_reminders")
    op.drop_table("member_tags")
    op.drop_index("ix_members_listing", "members")
    with op.batch_alter_table("groups") as batch:
        for column in ("tags", "city", "min_level", "min_tier"):
            batch.drop_column(column)
    with op.batch_alter_table("communities") as batch:
        for column in ("auto_upgrade", "renewal_reminder_days", "settings", "value_statement"):
            batch.drop_column(column)
