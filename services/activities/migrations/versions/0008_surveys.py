"""Surveys: a poll's kind (choice, rating, text) and a vote's free-text answer.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("polls") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="choice"))
    with op.batch_alter_table("poll_votes") as batch:
        batch.add_column(sa.Column("text", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("poll_votes") as batch:
        batch.drop_column("text")
    with op.batch_alter_table("polls") as batch:
        batch.drop_column("kind")
