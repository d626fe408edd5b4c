"""Waiting for a seat, a default routing code, members' own invite links (issue 10).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("seat_waiting_since", UtcDateTime, nullable=True))
    op.create_index(
        "ix_memberships_waiting",
        "memberships",
        ["tenant_id", "community_id", "seat_waiting_since"],
    )
    op.create_index("ix_memberships_source", "memberships", ["tenant_id", "source_code"])
    op.create_index("ix_invite_codes_inviter", "invite_codes", ["tenant_id", "inviter_id"])
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("member_invites", sa.JSON, nullable=True))
        batch.add_column(sa.Column("default_routing_code_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("default_routing_code_id")
        batch.drop_column("member_invites")
    op.drop_index("ix_invite_codes_inviter", "invite_codes")
    op.drop_index("ix_memberships_source", "memberships")
    op.drop_index("ix_memberships_waiting", "memberships")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("seat_waiting_since")
