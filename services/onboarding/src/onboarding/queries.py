"""Query helpers the feature repositories share: tenant scoping and keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, Table, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from servicekit.db import Query, insert_ignore

After = tuple[datetime, str]


class _Owned(Protocol):
    tenant_id: str


Row = TypeVar("Row", bound=_Owned)


def of_tenant(row: Row | None, tenant_id: str) -> Row | None:
    """A row found by primary key, if it is the tenant's (another tenant's is not found)."""
    return row if row is not None and row.tenant_id == tenant_id else None


def row_of(instance: Any) -> dict[str, Any]:
    """An ORM object's column values, as a Core INSERT on its table takes them."""
    table = cast(Table, instance.__table__)
    return {column.name: getattr(instance, column.key) for column in table.columns}


async def insert_if_absent(session: AsyncSession, instance: Any) -> bool:
    """The object's row unless its key exists (one Core INSERT, no unit of work): True
    when inserted, and concurrent inserts of one key never fail on it."""
    return await insert_ignore(session, cast(Table, instance.__table__), row_of(instance))


def oldest_first(
    query: Query,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    after: After | None,
    limit: int,
) -> Query:
    """A page of ``query`` in (created_at, id) order, starting after the cursor's row."""
    if after is not None:
        query = query.where(keyset(created_at, row_id, after))
    return query.order_by(created_at, row_id).limit(limit)


def keyset(
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    after: After,
) -> ColumnElement[bool]:
    """Keyset condition: rows strictly after (created_at, id) in that order."""
    at, last_id = after
    return or_(created_at > at, and_(created_at == at, row_id > last_id))
