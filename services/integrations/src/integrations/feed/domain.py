"""The pull feed's rules, pure: its opaque cursor and what a page may hold."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

CURSOR_PREFIX = b"feed:"
MAX_TYPES = 20


class InvalidCursor(ValueError):
    pass


def cursor(seq: int) -> str:
    """Opaque to clients: the position after which the next page starts."""
    return base64.urlsafe_b64encode(CURSOR_PREFIX + str(seq).encode()).decode().rstrip("=")


def position(value: str | None) -> int:
    """The position a cursor names (0 for none: the oldest event kept)."""
    if not value:
        return 0
    try:
        raw = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode())
    except (binascii.Error, ValueError):
        raise InvalidCursor(value) from None
    digits = raw.removeprefix(CURSOR_PREFIX)
    if not raw.startswith(CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise InvalidCursor(value)
    return int(digits)


def kept_since(now: datetime, retention: timedelta) -> datetime:
    """Events received before this instant are gone (a duration, not a local day)."""
    return now - retention


def selection(patterns: list[str]) -> tuple[bool, list[str], list[str]]:
    """``(everything, exact types, prefixes)`` that patterns such as ``membership.*`` and
    ``points.credited`` select (the grammar of webhook subscriptions)."""
    exact = sorted({p for p in patterns if not p.endswith("*")})
    prefixes = sorted({p[:-1] for p in patterns if p.endswith(".*")})
    return (not patterns or "*" in patterns), exact, prefixes
