"""Ledger: tenants set up, wallets, lots, entries, earning rules, level schemes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0002"
down_revision = "0001"

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reward_tenants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("set_up_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "wallets",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("pending", sa.BigInteger, nullable=False),
        sa.Column("lifetime", sa.BigInteger, nullable=False),
        sa.Column("debt", sa.BigInteger, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "member_id", name="uq_wallets_tenant_member"),
        sa.CheckConstraint("available >= 0", name="ck_wallets_available"),
        sa.CheckConstraint("pending >= 0", name="ck_wallets_pending"),
        sa.CheckConstraint("lifetime >= 0", name="ck_wallets_lifetime"),
        sa.CheckConstraint("debt >= 0", name="ck_wallets_debt"),
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("wallet_id", sa.BigInteger, sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("expired", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("earned_at", UtcDateTime, nullable=False),
        sa.Column("available_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("cause", sa.String(300), nullable=True),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.CheckConstraint("remaining >= 0 AND remaining <= points", name="ck_lots_remaining"),
    )
    op.create_index("ix_lots_wallet_state", "lots", ["wallet_id", "state"])
    op.create_index("ix_lots_tenant_cause", "lots", ["tenant_id", "cause"])
    op.create_table(
        "entries",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("wallet_id", sa.BigInteger, sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("available_delta", sa.BigInteger, nullable=False),
        sa.Column("pending_delta", sa.BigInteger, nullable=False),
        sa.Column("lifetime_delta", sa.BigInteger, nullable=False),
        sa.Column("debt_delta", sa.BigInteger, nullable=False),
        sa.Column("lot_id", sa.String(36), nullable=True),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("rule_id", sa.String(100), nullable=True),
        sa.Column("rule_version", sa.Integer, nullable=True),
        sa.Column("cause", sa.String(300), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_entries_tenant_key"),
    )
    op.create_index("ix_entries_wallet_id", "entries", ["wallet_id", "id"])
    op.create_index(
        "ix_entries_wallet_rule_time", "entries", ["wallet_id", "rule_id", "created_at"]
    )
    op.create_table(
        "earning_rules",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("rule_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_earning_rules_tenant_type", "earning_rules", ["tenant_id", "event_type", "active"]
    )
    op.create_table(
        "level_schemes",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("names", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("level_schemes", "earning_rules", "entries", "lots", "wallets", "reward_tenants"):
        op.drop_table(table)
