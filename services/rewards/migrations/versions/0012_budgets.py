"""The operator's points budget: point drops are paid from it, not from nowhere.

The default ``claimed-drop`` earning rule is retired: a claimed share is now a transfer
from the budget (rewards.budgets), never an earning rule's credit.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import BigIntId, UtcDateTime

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("available >= 0", name="ck_budgets_available"),
        sa.CheckConstraint("reserved >= 0", name="ck_budgets_reserved"),
    )
    op.create_table(
        "budget_drops",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("drop_id", sa.String(200), primary_key=True),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.Column("released", sa.BigInteger, nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "paid >= 0 AND released >= 0 AND paid + released <= total",
            name="ck_budget_drops_total",
        ),
    )
    op.create_table(
        "budget_entries",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("available_delta", sa.BigInteger, nullable=False),
        sa.Column("reserved_delta", sa.BigInteger, nullable=False),
        sa.Column("drop_id", sa.String(200), nullable=True),
        sa.Column("member_id", sa.String(200), nullable=True),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("actor_id", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_budget_entries_tenant_key"),
    )
    op.create_index("ix_budget_entries_tenant_id", "budget_entries", ["tenant_id", "id"])
    # Retire the default drop rule: its event is handled by the budget now.
    op.execute("UPDATE earning_rules SET active = false WHERE rule_id = 'claimed-drop'")
    op.execute("UPDATE rule_heads SET archived_at = updated_at WHERE rule_id = 'claimed-drop'")


def downgrade() -> None:
    op.execute("UPDATE rule_heads SET archived_at = NULL WHERE rule_id = 'claimed-drop'")
    op.execute("UPDATE earning_rules SET active = true WHERE rule_id = 'claimed-drop'")
    op.drop_index("ix_budget_entries_tenant_id", table_name="budget_entries")
    op.drop_table("budget_entries")
    op.drop_table("budget_drops")
    op.drop_table("budgets")
