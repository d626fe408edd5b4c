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
    sa.Column("available_at", UtcDateTime, nullable=True),  # NULL: held (a trial's points)
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
    sa.Column("actor_id", sa.String(200), nullable=True),  # the operator of an adjustment
    # A reversal: the credit entry it undoes (its lot's earning or adjustment).
    sa.Column("reverses_entry_id", sa.BigInteger, nullable=True),
    # A redelivered event or a retried request can never write its entry twice.
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_entries_tenant_key"),
    sa.Index("ix_entries_wallet_id", "wallet_id", "id"),
    sa.Index("ix_entries_wallet_rule_time", "wallet_id", "rule_id", "created_at"),
    sa.Index("ix_entries_tenant_kind", "tenant_id", "kind", "id"),
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

catalog_items = sa.Table(
    "catalog_items",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.String(2000), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("cost", sa.BigInteger, nullable=False),
    sa.Column("stock", sa.BigInteger, nullable=False),
    sa.Column("per_member_limit", sa.Integer, nullable=True),
    sa.Column("min_level", sa.Integer, nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),
    sa.Column("active_from", UtcDateTime, nullable=True),
    sa.Column("active_until", UtcDateTime, nullable=True),
    sa.Column("archived", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The last line of defence against overselling, whatever a query does.
    sa.CheckConstraint("stock >= 0", name="ck_catalog_items_stock"),
    sa.CheckConstraint("cost > 0", name="ck_catalog_items_cost"),
    sa.Index("ix_catalog_items_tenant_created", "tenant_id", "created_at", "id"),
)

redemptions = sa.Table(
    "redemptions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("item_id", sa.String(36), sa.ForeignKey("catalog_items.id"), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("request_key", sa.String(255), nullable=False),  # the member's Idempotency-Key
    sa.Column("item_name", sa.String(200), nullable=False),  # as redeemed
    sa.Column("item_kind", sa.String(16), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("allocations", sa.JSON, nullable=False),  # lots the points came from
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),
    sa.Column("note", sa.String(500), nullable=True),  # the member's, e.g. a delivery address
    sa.Column("reference", sa.String(500), nullable=True),  # the operator's, e.g. a tracking no.
    sa.Column("cancel_reason", sa.String(500), nullable=True),
    sa.Column("closed_by", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    # A key the idempotency store has forgotten (24 h) still cannot redeem twice.
    sa.UniqueConstraint("tenant_id", "member_id", "request_key", name="uq_redemptions_request"),
    sa.Index("ix_redemptions_member_item", "tenant_id", "member_id", "item_id", "status"),
    sa.Index("ix_redemptions_member_created", "tenant_id", "member_id", "created_at", "id"),
    sa.Index("ix_redemptions_status_created", "tenant_id", "status", "created_at", "id"),
)

# Leaderboards (see domain/leaderboard.py). scope = a community id, or "" for the tenant.
# A period's board sums the days it covers: an index range on (tenant, scope, day).
score_days = sa.Table(
    "score_days",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("reached_at", UtcDateTime, nullable=False),
    # "My rank" first needs my own sum over the period.
    sa.Index("ix_score_days_member", "tenant_id", "scope", "member_id", "day"),
)

# All time: one row per member and scope, kept in board order by an index, so the
# top N is the first N index entries and a rank is a count of the entries before.
score_totals = sa.Table(
    "score_totals",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("reached_at", UtcDateTime, nullable=False),
    sa.Index(
        "ix_score_totals_board",
        "tenant_id",
        "scope",
        sa.text("points DESC"),
        "reached_at",
        "member_id",
    ),
)

# The rolling 7- and 30-day boards, kept like the all-time one: one row per member,
# scope and span, summing the days of the window that ends on the span's ``as_of``
# day (score_window_state). Rebuilt from score_days when the day changes; every
# score written in between is added to the rows of the windows its day falls in.
score_windows = sa.Table(
    "score_windows",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("span", sa.Integer, primary_key=True),  # days: 7 or 30
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("reached_at", UtcDateTime, nullable=False),
    sa.Index(
        "ix_score_windows_board",
        "tenant_id",
        "span",
        "scope",
        sa.text("points DESC"),
        "reached_at",
        "member_id",
    ),
)

# Which day each scope's span rows are for (NULL: not built yet), in the scope's local
# days (each scope has its own "today"). Writers hold it FOR SHARE while they add to the
# windows, a rebuild FOR UPDATE: a score is either in the rebuild's read of score_days
# or added to the rebuilt rows, never both or neither.
score_window_state = sa.Table(
    "score_window_state",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("span", sa.Integer, primary_key=True),
    sa.Column("as_of", sa.Date, nullable=True),
)

# The time zones of the tenant (scope "") and its communities (scope = community id), as
# their producers last announced them (zones/): what "today" is for each (0008).
local_zones = sa.Table(
    "local_zones",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("zone", sa.String(64), nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),  # the event's time: newest wins
)

# ------------------------------------------------ rules admin, settings, notices (0006)

# One row per rule: the version in force and whether it is archived. The versions
# themselves are earning_rules rows; entries name the version they came from.
rule_heads = sa.Table(
    "rule_heads",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("rule_id", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),
    sa.Column("archived_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=True),  # None: the service's defaults
    sa.Index("ix_rule_heads_tenant_type", "tenant_id", "event_type", "rule_id"),
)

# Per-tenant settings; a tenant without a row has the defaults.
reward_settings = sa.Table(
    "reward_settings",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("expiry_notice_days", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(
        "expiry_notice_days >= 0 AND expiry_notice_days <= 90", name="ck_reward_settings_notice"
    ),
)

# A lot announced in points.will_expire: each lot is announced at most once, however
# often its timer fires or is re-armed.
expiry_notices = sa.Table(
    "expiry_notices",
    metadata,
    sa.Column("lot_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("announced_at", UtcDateTime, nullable=False),
)

# Reports sum a tenant's entries over a period.
sa.Index("ix_entries_tenant_time", entries.c.tenant_id, entries.c.created_at)

# Badges (domain/badges.py). Rules are data like earning rules; a member's progress on a
# rule is a small state per (member, rule), which is also the record of the badge earned
# (times > 0).
badge_tenants = sa.Table(
    "badge_tenants",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("set_up_at", UtcDateTime, nullable=False),  # default badge rules written
)

badge_rules = sa.Table(
    "badge_rules",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(200), nullable=True),  # NULL: a level rule
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_badge_rules_tenant_type", "tenant_id", "event_type", "archived"),
    sa.Index("ix_badge_rules_tenant_created", "tenant_id", "created_at", "id"),
)

badge_progress = sa.Table(
    "badge_progress",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("rule_id", sa.String(36), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("times", sa.Integer, nullable=False),
    sa.Column("first_awarded_at", UtcDateTime, nullable=True),
    sa.Column("last_awarded_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("times >= 0", name="ck_badge_progress_times"),
)

# One row per occurrence counted for a rule (``BadgeRule.occurrence_key``), written with
# the progress it advanced: a redelivered or replayed event never counts twice.
badge_marks = sa.Table(
    "badge_marks",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# What rewards knows of a membership whose points depend on it (points/domain.py,
# MembershipOutcome), merged from its events in any order: a late activation of a
# refunded or unpaid-ended membership credits nothing; a trial's held points learn
# when they are released.
membership_outcomes = sa.Table(
    "membership_outcomes",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(200), primary_key=True),
    sa.Column("forfeited_at", UtcDateTime, nullable=True),
    sa.Column("paid_window_ends_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# The operator's points budget (one per tenant), what drops hold of it, and its entries:
# the balances always equal the sums of the entries' deltas (rewards.budgets.domain).
budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("reserved", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("available >= 0", name="ck_budgets_available"),
    sa.CheckConstraint("reserved >= 0", name="ck_budgets_reserved"),
)

budget_drops = sa.Table(
    "budget_drops",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("drop_id", sa.String(200), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("paid", sa.BigInteger, nullable=False),
    sa.Column("released", sa.BigInteger, nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Never more points out of a drop than its total, whatever a query does.
    sa.CheckConstraint(
        "paid >= 0 AND released >= 0 AND paid + released <= total", name="ck_budget_drops_total"
    ),
)

budget_entries = sa.Table(
    "budget_entries",
    metadata,
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
    sa.Index("ix_budget_entries_tenant_id", "tenant_id", "id"),
)

# Meetup seats paid in points (rewards.meetups): one row per registration that cost points,
# charged or refused, then refunded at most once; ``allocations``: the lots the charge took
# from, what a refund restores.
meetup_payments = sa.Table(
    "meetup_payments",
    metadata,
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
    # Never more back than was charged, whatever a query does.
    sa.CheckConstraint(
        "charged >= 0 AND refunded >= 0 AND refunded <= charged", name="ck_meetup_payments_refund"
    ),
)
