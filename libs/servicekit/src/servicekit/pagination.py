"""Opaque cursors for keyset pagination: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query

from servicekit.problems import Problem

MAX_PAGE_SIZE = 200

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """The key values a cursor carries; a malformed one is a 400 problem, not a 500."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as error:
        raise invalid_cursor() from error
    if not isinstance(values, list) or len(values) != size:
        raise invalid_cursor()
    return values


def invalid_cursor() -> Problem:
    return Problem(400, "invalid-cursor", "Invalid cursor", "pass back `next_cursor` unchanged")
