"""Versioned rules, level names, expiry announcements.

Rule heads (the version in force of each rule, archived or not) backfilled from the
versions already stored; per-tenant settings; the lots announced in
``points.will_expire`` and the announcement timers of the lots already open; an index
for reports over a tenant's entries.

Revision ID: 0006
Revises: 0005
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0006"
down_revision = "0005"

NOTICE_TIMER = "rewards.will_expire"
DEFAULT_NOTICE_DAYS = 7
CHUNK = 1000


def upgrade() -> None:
    heads = op.create_table(
        "rule_heads",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("rule_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=True),
        sa.Column("archived_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
    )
    op.create_index(
        "ix_rule_heads_tenant_type", "rule_heads", ["tenant_id", "event_type", "rule_id"]
    )
    op.create_table(
        "reward_settings",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("expiry_notice_days", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "expiry_notice_days >= 0 AND expiry_notice_days <= 90",
            name="ck_reward_settings_notice",
        ),
    )
    op.create_table(
        "expiry_notices",
        sa.Column("lot_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("announced_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_entries_tenant_time", "entries", ["tenant_id", "created_at"])
    assert heads is not None
    _backfill_heads(heads)
    _schedule_notices()


def _backfill_heads(heads: sa.Table) -> None:
    """The latest version of each rule is the one in force; a rule with no active
    version was switched off, which the heads call archived."""
    rules = sa.Table("earning_rules", sa.MetaData(), autoload_with=op.get_bind())
    latest: dict[tuple[str, str], Any] = {}
    first: dict[tuple[str, str], datetime] = {}
    for row in op.get_bind().execute(sa.select(rules)):
        key = (row.tenant_id, row.rule_id)
        if key not in latest or row.version > latest[key].version:
            latest[key] = row
        first[key] = min(first.get(key, row.created_at), row.created_at)
    rows = []
    for key, row in latest.items():
        definition = row.definition if isinstance(row.definition, dict) else {}
        rows.append(
            {
                "tenant_id": row.tenant_id,
                "rule_id": row.rule_id,
                "version": row.version,
                "event_type": row.event_type,
                "community_id": definition.get("community_id"),
                "archived_at": None if row.active else _utc(row.created_at),
                "created_at": _utc(first[key]),
                "updated_at": _utc(row.created_at),
                "updated_by": None,
            }
        )
    _insert(heads, rows)


def _schedule_notices() -> None:
    """Announcement timers for the open lots that expire more than the default notice
    from now: one per wallet and day of expiry (rewards.ledger), due at the first."""
    bind = op.get_bind()
    meta = sa.MetaData()
    lots = sa.Table("lots", meta, autoload_with=bind)
    timers = sa.Table("timers", meta, autoload_with=bind)
    now = datetime.now(UTC)
    notice = timedelta(days=DEFAULT_NOTICE_DAYS)
    query = sa.select(lots.c.tenant_id, lots.c.wallet_id, lots.c.expires_at).where(
        lots.c.expires_at.is_not(None),
        lots.c.state != "reversed",
        lots.c.remaining > 0,
        lots.c.expires_at > (now + notice).replace(tzinfo=None),
    )
    due: dict[tuple[str, int, str], datetime] = defaultdict(
        lambda: datetime.max.replace(tzinfo=UTC)
    )
    for row in bind.execute(query):
        expires = _utc(row.expires_at)
        key = (row.tenant_id, int(row.wallet_id), expires.date().isoformat())
        due[key] = min(due[key], expires - notice)
    _insert(
        timers,
        [
            {
                "kind": NOTICE_TIMER,
                "key": f"{wallet_id}:{day}",
                "due_at": at.replace(tzinfo=None),
                "payload": {"tenant_id": tenant_id, "wallet_id": wallet_id, "day": day},
                "attempts": 0,
            }
            for (tenant_id, wallet_id, day), at in due.items()
        ],
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        op.bulk_insert(table, rows[start : start + CHUNK])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM timers WHERE kind = :kind").bindparams(kind=NOTICE_TIMER))
    op.drop_index("ix_entries_tenant_time", table_name="entries")
    for table in ("expiry_notices", "reward_settings", "rule_heads"):
        op.drop_table(table)
