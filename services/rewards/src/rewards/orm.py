"""Tables of the rewards service (servicekit's outbox, inbox and timers come on top).

Queries use these tables through SQLAlchemy Core: a consumer batch applies many
events in one session, and Core rows are never stale the way a cached ORM
identity map would be between two events of the same batch.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from servicekit.types import BigIntId, UtcDateTime


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

tenants = sa.Table(
    "reward_tenants",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("set_up_at", UtcDateTime, nullable=False),  # default rules and levels written
)

wallets = sa.Table(
    "wallets",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
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

lots = sa.Table(
    "lots",
    metadata,
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
    sa.Index("ix_lots_wallet_state", "wallet_id", "state"),
    sa.Index("ix_lots_tenant_cause", "tenant_id", "cause"),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
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
    # A redelivered event or a retried request can never write its entry twice.
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_entries_tenant_key"),
    sa.Index("ix_entries_wallet_id", "wallet_id", "id"),
    sa.Index("ix_entries_wallet_rule_time", "wallet_id", "rule_id", "created_at"),
)

earning_rules = sa.Table(
    "earning_rules",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("rule_id", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),  # only the current version is active
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_earning_rules_tenant_type", "tenant_id", "event_type", "active"),
)

level_schemes = sa.Table(
    "level_schemes",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("thresholds", sa.JSON, nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
