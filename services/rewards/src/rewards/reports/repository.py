"""Queries of the operators' points report: sums over the ledger's entries. Scoped by the
tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, case, func, literal, literal_column, select
from sqlalchemy import types as sa_types
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.orm import entries
from servicekit.types import UtcDateTime


@dataclass(frozen=True)
class ReportRow:
    key: str | date | None
    earned: int
    spent: int
    restored: int
    expired: int
    reversed: int
    adjusted: int
    members_earning: int


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def report(
        self,
        tenant_id: str,
        first: datetime,
        end: datetime,
        *,
        community_id: str | None,
        group_by: str | None,
        offsets: Sequence[tuple[datetime, int]] = (),
    ) -> list[ReportRow]:
        """Totals of the tenant's entries in ``[first, end)``, one row per group (one row
        with key None when not grouped): one aggregate query. Days are local: ``offsets``
        are the zone's UTC offsets over the period (``zones.domain.offsets``)."""
        dialect = self.session.get_bind().dialect.name
        key = _report_key(group_by, offsets, dialect)
        query = select(key.label("key"), *_report_columns()).where(
            entries.c.tenant_id == tenant_id,
            entries.c.created_at >= first,
            entries.c.created_at < end,
        )
        if community_id is not None:
            query = query.where(entries.c.community_id == community_id)
        if group_by is not None:
            query = query.group_by(key).order_by(key)
        rows = (await self.session.execute(query)).mappings().all()
        return [_report_row(row, group_by) for row in rows]


def _report_key(group_by: str | None, offsets: Sequence[tuple[datetime, int]], dialect: str) -> Any:
    if group_by == "rule":
        return entries.c.rule_id
    if group_by == "community":
        return entries.c.community_id
    if group_by == "day":
        return _local_date(offsets, dialect)
    return literal(None, sa_types.String)


def _local_date(offsets: Sequence[tuple[datetime, int]], dialect: str) -> Any:
    """The local date of an entry: its (naive UTC) time plus the offset of the piece of
    the period it falls in, the latest piece first."""
    created = entries.c.created_at

    def shifted(seconds: int) -> Any:
        if dialect == "postgresql":  # seconds is an int we computed, never input
            return func.date(created + literal_column(f"INTERVAL '{int(seconds)} seconds'"))
        return func.date(created, f"{int(seconds):+d} seconds")  # SQLite's modifiers

    pieces = list(offsets) or [(datetime.min, 0)]
    if len(pieces) == 1:
        return shifted(pieces[0][1])
    later = [
        (created >= bindparam(None, since, type_=UtcDateTime), shifted(seconds))
        for since, seconds in reversed(pieces[1:])
    ]
    return case(*later, else_=shifted(pieces[0][1]))


def _report_columns() -> list[Any]:
    """Each measure is a conditional sum over the entries' kinds (see README: Reports)."""
    kind = entries.c.kind
    held = entries.c.available_delta + entries.c.pending_delta

    def total(name: str, of_kind: str, value: Any) -> Any:
        return func.coalesce(func.sum(case((kind == of_kind, value), else_=0)), 0).label(name)

    return [
        total("earned", "earn", entries.c.lifetime_delta),
        total("spent", "spend", -entries.c.available_delta),
        total("restored", "restore", entries.c.available_delta),
        total("expired", "expire", -held),
        total("reversed", "reverse", -entries.c.lifetime_delta),
        total("adjusted", "adjust", held),
        func.count(func.distinct(case((kind == "earn", entries.c.wallet_id)))).label(
            "members_earning"
        ),
    ]


def _report_row(row: Any, group_by: str | None) -> ReportRow:
    key = row["key"]
    if group_by == "day" and isinstance(key, str):  # SQLite's date() is text
        key = date.fromisoformat(key)
    measures = {name: int(row[name]) for name in ReportRow.__dataclass_fields__ if name != "key"}
    return ReportRow(key=key, **measures)
