"""Leaderboards: per-member scores per day, all time and over rolling windows, per
community and tenant-wide; days and all time backfilled from the entries already written.

Revision ID: 0004
Revises: 0003
"""

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0004"
down_revision = "0003"

TENANT_WIDE = ""
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK = 1000


def upgrade() -> None:
    days = op.create_table(
        "score_days",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("reached_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_score_days_member", "score_days", ["tenant_id", "scope", "member_id", "day"]
    )
    totals = op.create_table(
        "score_totals",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("reached_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_score_totals_board",
        "score_totals",
        ["tenant_id", "scope", sa.text("points DESC"), "reached_at", "member_id"],
    )
    op.create_table(
        "score_windows",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("span", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("reached_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_score_windows_board",
        "score_windows",
        ["tenant_id", "span", "scope", sa.text("points DESC"), "reached_at", "member_id"],
    )
    # Window rows are built on first use; the states start empty (as_of NULL).
    op.create_table(
        "score_window_state",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("span", sa.Integer, primary_key=True),
        sa.Column("as_of", sa.Date, nullable=True),
    )
    assert days is not None and totals is not None
    _backfill(days, totals)


def _backfill(days: sa.Table, totals: sa.Table) -> None:
    """The same sums the ledger keeps from now on (rewards.domain.leaderboard), written
    out here so that this revision never changes with the code."""
    meta = sa.MetaData()
    entries = sa.Table("entries", meta, autoload_with=op.get_bind())
    lots = sa.Table("lots", meta, autoload_with=op.get_bind())
    wallets = sa.Table("wallets", meta, autoload_with=op.get_bind())
    query = (
        sa.select(
            entries.c.tenant_id,
            wallets.c.member_id,
            entries.c.community_id,
            entries.c.lifetime_delta,
            entries.c.created_at,
            lots.c.earned_at,
        )
        .select_from(entries.join(wallets, wallets.c.id == entries.c.wallet_id))
        .outerjoin(lots, lots.c.id == entries.c.lot_id)
        .where(entries.c.lifetime_delta != 0)
    )
    by_day: dict[tuple[str, str, date, str], list[Any]] = defaultdict(lambda: [0, NEVER])
    for row in op.get_bind().execute(query):
        at = _utc(row.created_at)
        day = _utc(row.earned_at or row.created_at).date()
        reached = at if row.lifetime_delta > 0 else NEVER
        for scope in {TENANT_WIDE, row.community_id or TENANT_WIDE}:
            total = by_day[(row.tenant_id, scope, day, row.member_id)]
            total[0] += row.lifetime_delta
            total[1] = max(total[1], reached)
    by_member: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, NEVER])
    for (tenant_id, scope, _day, member_id), (points, reached) in by_day.items():
        total = by_member[(tenant_id, scope, member_id)]
        total[0] += points
        total[1] = max(total[1], reached)
    _insert(
        days,
        [
            dict(zip(("tenant_id", "scope", "day", "member_id"), k, strict=True))
            | {"points": p, "reached_at": r}
            for k, (p, r) in by_day.items()
        ],
    )
    _insert(
        totals,
        [
            dict(zip(("tenant_id", "scope", "member_id"), k, strict=True))
            | {"points": p, "reached_at": r}
            for k, (p, r) in by_member.items()
        ],
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        op.bulk_insert(table, rows[start : start + CHUNK])


def downgrade() -> None:
    for table in ("score_window_state", "score_windows", "score_totals", "score_days"):
        op.drop_table(table)
