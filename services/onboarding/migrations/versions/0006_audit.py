"""The audit log: every moderator and operator action (who, what, why, when).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_kind", sa.String(30), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_audit_log_listing", "audit_log", ["tenant_id", "created_at", "id"])
    op.create_index("ix_audit_log_target", "audit_log", ["tenant_id", "target_id", "created_at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["tenant_id", "actor_id", "created_at"])
    op.create_index("ix_audit_log_community_id", "audit_log", ["community_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
