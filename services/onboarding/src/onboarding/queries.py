"""Query helpers the feature repositories share: tenant scoping and keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from servicekit.db import Query

After = tuple[datetime, str]


class _Owned(Protocol):
    tenant_id: str


Row = TypeVar("Row", bound=_Owned)


def of_tenant(row: Row | None, tenant_id: str) -> Row | None:
    """A row found by primary key, if it is the tenant's (another tenant's is not found)."""
    return row if row is not None and row.tenant_id == tenant_id else None


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
