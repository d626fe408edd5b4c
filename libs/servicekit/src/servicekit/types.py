"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; naive UTC in the database on both backends."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def utcnow() -> datetime:
    return datetime.now(UTC)


def null_refused(
    names: Iterable[str] = (), *, all_but: Iterable[str] | None = None
) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` of a PATCH body whose fields are optional but some refuse null
    (an absent field stays, null clears, and not every field may be cleared): the document
    then offers null only where the validator takes it. ``all_but``: every field but these."""
    named, kept = frozenset(names), None if all_but is None else frozenset(all_but)

    def drop_null(schema: dict[str, Any]) -> None:
        for name, field in schema.get("properties", {}).items():
            if (name in named or (kept is not None and name not in kept)) and "anyOf" in field:
                branches = [b for b in field["anyOf"] if b != {"type": "null"}]
                del field["anyOf"]
                if len(branches) == 1:
                    field.update(branches[0])
                else:
                    field["anyOf"] = branches
                field.pop("default", None)

    return drop_null
