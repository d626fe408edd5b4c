"""Talks' attendance, reported by the front end (minutes max-merged per member).

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
        "talk_attendance",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("talk_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("joined_at", UtcDateTime, nullable=False),
        sa.Column("reported_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("minutes >= 0", name="ck_talk_attendance_minutes"),
    )


def downgrade() -> None:
    op.drop_table("talk_attendance")
