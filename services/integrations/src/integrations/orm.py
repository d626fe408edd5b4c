"""Tables of the integrations service (servicekit's outbox, inbox and timers come on top).

Queries use these tables through SQLAlchemy Core.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from servicekit.types import BigIntId, UtcDateTime


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# --- webhooks ------------------------------------------------------------------------------

# A tenant's endpoint: where, which event types (patterns with wildcards), its signing
# secret and, during a rotation's overlap, the previous one.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_until", UtcDateTime, nullable=True),
    # The first failure since the last success (null: healthy).
    sa.Column("failing_since", UtcDateTime, nullable=True),
    # At most this many attempts start per second (null: no limit); the earliest instant
    # the next one may start (slots are reserved in order, see webhooks.domain.reserve).
    sa.Column("rate_limit_per_s", sa.Float, nullable=True),
    sa.Column("next_send_at", UtcDateTime, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_webhook_endpoints_tenant", "tenant_id", "created_at"),
)

# One message to one endpoint: the body is fixed when it is made (its signature is over
# these bytes), its webhook-id stays the same on every attempt and redelivery.
# status: pending (an attempt timer is armed), waiting (behind an earlier message of the
# same member), sending (an attempt in flight), delivered, failed.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("message_id", sa.String(80), nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("order_key", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("endpoint_id", "message_id", name="uq_webhook_deliveries_message"),
    sa.Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "id"),
    sa.Index("ix_webhook_deliveries_order", "endpoint_id", "order_key", "status"),
)

# Every attempt: when, what came back (status, latency, the answer's first bytes) or why
# nothing did.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("delivery_id", sa.BigInteger, nullable=False),
    sa.Column("attempted_at", UtcDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_excerpt", sa.Text, nullable=False),
    sa.Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)

# --- feed ----------------------------------------------------------------------------------

# The tenant's events in the order this service received them (seq), kept for the retention
# period; the pull feed pages over (tenant_id, seq).
feed_events = sa.Table(
    "feed_events",
    metadata,
    sa.Column("seq", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("event_id", sa.String(100), nullable=False, unique=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_feed_events_tenant", "tenant_id", "seq"),
    sa.Index("ix_feed_events_received", "received_at"),
)

# --- crm -----------------------------------------------------------------------------------

# A tenant's field mapping: CRM field name -> member field (display_name, tags or a profile
# key; null drops the field), and what becomes of fields it does not name (keep or drop).
# No contact is kept here: onboarding's member directory is the one truth about members.
crm_mappings = sa.Table(
    "crm_mappings",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("unmapped", sa.String(8), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# --- exports -------------------------------------------------------------------------------

# What the nightly CSV export needs, projected from the platform's events (order-tolerant:
# every part carries the time of the event that set it, an older event never overwrites).

# The tenant's time zone (gateway's tenant events; Asia/Shanghai until one says) and the
# nightly export's next timer (its key, to move it when the zone changes).
export_tenants = sa.Table(
    "export_tenants",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("zone_at", UtcDateTime, nullable=True),
    sa.Column("next_key", sa.String(80), nullable=True),
)

# A member: directory fields (onboarding's member.upserted), level (rewards' level.changed)
# and the wallet's balances after its latest ledger entry (rewards' points.*).
export_members = sa.Table(
    "export_members",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=True),
    sa.Column("tags", sa.JSON, nullable=True),
    sa.Column("tags_at", UtcDateTime, nullable=True),
    sa.Column("profile_at", UtcDateTime, nullable=True),
    sa.Column("level", sa.Integer, nullable=True),
    sa.Column("level_name", sa.String(100), nullable=True),
    sa.Column("level_at", UtcDateTime, nullable=True),
    sa.Column("available", sa.BigInteger, nullable=True),
    sa.Column("pending", sa.BigInteger, nullable=True),
    sa.Column("lifetime", sa.BigInteger, nullable=True),
    sa.Column("debt", sa.BigInteger, nullable=True),
    sa.Column("balance_at", UtcDateTime, nullable=True),
)

# A membership (onboarding's membership.*): community, tier, status, the latest activation
# and the end of its term or trial.
export_memberships = sa.Table(
    "export_memberships",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(100), primary_key=True),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("community_id", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("status_at", UtcDateTime, nullable=True),
    sa.Column("tier", sa.String(50), nullable=True),
    sa.Column("tier_at", UtcDateTime, nullable=True),
    sa.Column("activated_at", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("term_at", UtcDateTime, nullable=True),
    sa.Index("ix_export_memberships_member", "tenant_id", "member_id"),
)

# An export file: made nightly or on request; its CSV is kept in parts (one per page of
# members) so that neither building nor downloading holds a large tenant's file in memory.
# status: pending (a build timer is armed), ready.
export_files = sa.Table(
    "export_files",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("filename", sa.String(100), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Index("ix_export_files_tenant", "tenant_id", "created_at", "id"),
)

export_parts = sa.Table(
    "export_parts",
    metadata,
    sa.Column("export_id", sa.String(40), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
)
