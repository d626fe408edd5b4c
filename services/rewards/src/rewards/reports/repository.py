"""Queries of the operators' points report: sums over the ledger's entries. Scoped by the
tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy import types as sa_types
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.orm import entries


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
    ) -> list[ReportRow]:
        """Totals of the tenant's entries in ``[first, end)``, one row per group (one row
        with key None when not grouped): one aggregate query."""
        key = _report_key(group_by)
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


def _report_key(group_by: str | None) -> Any:
    if group_by == "rule":
        return entries.c.rule_id
    if group_by == "community":
        return entries.c.community_id
    if group_by == "day":
        return func.date(entries.c.created_at)  # times are stored as naive UTC
    return literal(None, sa_types.String)


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
