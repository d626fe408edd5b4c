"""Keyset pagination with opaque cursors: stable under inserts, no OFFSET scans.

Lists are ordered by ``(created_at, id)``; a page is fetched with ``limit + 1``
rows so that the extra row tells whether another page follows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from servicekit.problems import Problem

MAX_PAGE_SIZE = 200

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page; absent or empty: the first page"),
]

T = TypeVar("T")
Out = TypeVar("Out", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class Keyed(Protocol):
    id: str
    created_at: datetime


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """The key values a cursor carries; a malformed one is a 400 problem, not a 500. An
    empty cursor (``?cursor=``, what a client sends from an empty variable) is the first
    page, as an absent one."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as error:
        raise invalid_cursor() from error
    if not isinstance(values, list) or len(values) != size:
        raise invalid_cursor()
    return values


def keyset_after(cursor: str | None) -> tuple[datetime, str] | None:
    """The ``(created_at, id)`` a page starts after."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        at = datetime.fromisoformat(str(values[0]))
    except ValueError as error:
        raise invalid_cursor() from error
    row_id = str(values[1])
    # Cursors come from clients: only what we issue (aware times, ids without NUL) passes.
    if at.tzinfo is None or "\x00" in row_id or len(row_id) > 255:
        raise invalid_cursor()
    try:
        return at.astimezone(UTC), row_id
    except OverflowError as error:  # a time at the edge of the calendar
        raise invalid_cursor() from error


def next_cursor(rows: Sequence[Keyed], limit: int) -> str | None:
    """``rows`` were fetched with ``limit + 1``: the extra row says whether more follow."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor([last.created_at.isoformat(), last.id])


def page_of(rows: Sequence[Any], limit: int, out: type[Out]) -> Page[Out]:
    """A page of ``out`` from ``rows`` fetched with ``limit + 1``."""
    items = [out.model_validate(row) for row in rows[:limit]]
    return Page[out](items=items, next_cursor=next_cursor(rows, limit))  # type: ignore[valid-type]


def invalid_cursor() -> Problem:
    return Problem(400, "invalid-cursor", "Invalid cursor", "pass back `next_cursor` unchanged")
