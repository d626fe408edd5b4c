"""Meetup seats paid in points: a confirmed seat's charge (or its refusal) and its refund.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "meetup_payments",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("registration_id", sa.String(200), primary_key=True),
        sa.Column("meetup_id", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("cost", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("charged", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("allocations", sa.JSON, nullable=False),
        sa.Column("charged_at", UtcDateTime, nullable=False),
        sa.Column("refunded_at", UtcDateTime, nullable=True),
        sa.CheckConstraint(
            "charged >= 0 AND refunded >= 0 AND refunded <= charged",
            name="ck_meetup_payments_refund",
        ),
    )


def downgrade() -> None:
    op.drop_table("meetup_payments")
