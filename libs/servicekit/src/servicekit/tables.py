"""Tables every service database has: outbox, inbox, timers, idempotency keys, broker epochs.

They live in their own MetaData; a service's Alembic env targets both its own
metadata and this one, and its first migration calls ``servicekit.migrations``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from servicekit.types import BigIntId, UtcDateTime

kit_metadata = MetaData()

outbox = Table(
    "outbox",
    kit_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("topic", String(255), nullable=False),
    Column("key", String(255), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index(
        "ix_outbox_unsent",
        "id",
        postgresql_where=text("sent_at IS NULL"),
        sqlite_where=text("sent_at IS NULL"),
    ),
    Index("ix_outbox_sent_at", "sent_at"),
)

inbox = Table(
    "inbox",
    kit_metadata,
    Column("consumer_group", String(255), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigIntId, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
    # The consumers' purge of ids applied long ago reads by it (kit tables v3).
    Index("ix_inbox_applied_at", "applied_at"),
)

timers = Table(
    "timers",
    kit_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("kind", String(100), nullable=False),
    Column("key", String(255), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("fired_at", UtcDateTime, nullable=True),
    UniqueConstraint("kind", "key", name="uq_timers_kind_key"),
    Index(
        "ix_timers_due",
        "due_at",
        postgresql_where=text("fired_at IS NULL"),
        sqlite_where=text("fired_at IS NULL"),
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    kit_metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response_status", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)


# The broker the relay last published to, by its cluster id: a different one at the next
# publish means the broker came back empty (the dev broker keeps everything in memory), and
# what was sent to the old one is sent again (servicekit.brokerwatch).
broker_epochs = Table(
    "broker_epochs",
    kit_metadata,
    Column("name", String(64), primary_key=True),
    Column("cluster_id", String(255), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

KIT_TABLES_V1 = (outbox, inbox, timers, idempotency_keys)
KIT_TABLES_V2 = (broker_epochs,)
