"""Reactivation sequences: a run is unique per sequence, membership and occasion (the
silence it answers), and a member's runs in a community are found by the member.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("sequence_runs") as batch:
        batch.add_column(sa.Column("occasion", sa.String(40), nullable=False, server_default=""))
        batch.drop_constraint("uq_sequence_runs_membership", type_="unique")
        batch.create_unique_constraint(
            "uq_sequence_runs_occasion", ["sequence_id", "membership_id", "occasion"]
        )
    op.create_index(
        "ix_sequence_runs_member", "sequence_runs", ["tenant_id", "member_id", "community_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_sequence_runs_member", "sequence_runs")
    with op.batch_alter_table("sequence_runs") as batch:
        batch.drop_constraint("uq_sequence_runs_occasion", type_="unique")
        batch.create_unique_constraint(
            "uq_sequence_runs_membership", ["sequence_id", "membership_id"]
        )
        batch.drop_column("occasion")
