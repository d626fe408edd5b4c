"""Local days: the tenant's and communities' time zones (kept from their events), and
rolling leaderboard windows kept per scope, since each scope's "today" is its own.

Windows are a cache of the day rows: the old ones are dropped and each scope's are
rebuilt by its first reader. Day rows written before this revision stay on the UTC days
they were counted in (the zones were not known then).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "local_zones",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
    )
    op.execute("DELETE FROM score_windows")
    op.drop_table("score_window_state")
    _window_state(with_scope=True)


def downgrade() -> None:
    op.execute("DELETE FROM score_windows")
    op.drop_table("score_window_state")
    _window_state(with_scope=False)
    op.drop_table("local_zones")


def _window_state(*, with_scope: bool) -> None:
    scope = [sa.Column("scope", sa.String(200), primary_key=True)] if with_scope else []
    op.create_table(
        "score_window_state",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        *scope,
        sa.Column("span", sa.Integer, primary_key=True),
        sa.Column("as_of", sa.Date, nullable=True),
    )
