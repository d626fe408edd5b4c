"""Keyset pages over (created_at, id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from gateway.api.schemas import Page
from servicekit.pagination import decode_cursor, encode_cursor, invalid_cursor

Out = TypeVar("Out", bound=BaseModel)


class Keyed(Protocol):
    id: str
    created_at: datetime


def after_of(cursor: str | None) -> tuple[datetime, str] | None:
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        return datetime.fromisoformat(str(values[0])), str(values[1])
    except ValueError as error:
        raise invalid_cursor() from error


def page_of(rows: Sequence[Any], limit: int, out: type[Out]) -> Page[Out]:
    """``rows`` were fetched with ``limit + 1``: the extra row says whether more follow."""
    items = [out.model_validate(row) for row in rows[:limit]]
    more = len(rows) > limit
    last: Keyed | None = rows[limit - 1] if more else None
    cursor = encode_cursor([last.created_at.isoformat(), last.id]) if last else None
    return Page[out](items=items, next_cursor=cursor)  # type: ignore[valid-type]
