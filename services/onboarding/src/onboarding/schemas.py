"""Request and response types every part of the onboarding API uses (each feature's own
bodies are in its api.py or schemas.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from servicekit.text import LINE_PATTERN, TEXT_PATTERN, Body, strings_follow, trimmed

Name = Annotated[str, trimmed(1, 200)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=LINE_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
GroupKind = Literal["trial", "core", "interest", "local", "temporary"]
Capacity = Annotated[int, Field(ge=1, le=100_000)]
Reason = Annotated[str, trimmed(1, 500)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=LINE_PATTERN)]
Level = Annotated[int, Field(ge=1, le=1000)]
# The rules (群规) version the member accepted; required to join a community that has rules.
RulesVersion = Annotated[int, Field(ge=1, le=1_000_000)]


class Strict(Body):
    """Request bodies: unknown fields and control characters refused (422), by servicekit's
    one rule for every service (``Body``: tabs and line breaks only)."""

    # The document says what the rule checks, on every free string of the body.
    model_config = ConfigDict(extra="forbid", json_schema_extra=strings_follow(TEXT_PATTERN))


def given(model: BaseModel) -> dict[str, Any]:
    """The fields the client sent, nested models whole (defaults included)."""
    return {k: v for k, v in model.model_dump().items() if k in model.model_fields_set}


def refuse_null(model: BaseModel, names: tuple[str, ...]) -> None:
    nulls = [n for n in names if n in model.model_fields_set and getattr(model, n) is None]
    if nulls:
        raise ValueError(f"cannot be null: {', '.join(nulls)}")


class JoinIn(Strict):
    """The optional body of the join endpoints (direct, routing code, invite)."""

    accepted_rules_version: RulesVersion | None = None
