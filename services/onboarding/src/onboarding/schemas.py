"""Request and response types every part of the onboarding API uses (each feature's own
bodies are in its api.py or schemas.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from servicekit.text import NUL_FREE_PATTERN, strings_follow, trimmed
from servicekit.types import contains_nul

Name = Annotated[str, trimmed(1, 200)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
GroupKind = Literal["trial", "core", "interest", "local", "temporary"]
Capacity = Annotated[int, Field(ge=1, le=100_000)]
Reason = Annotated[str, trimmed(1, 500)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Level = Annotated[int, Field(ge=1, le=1000)]
# The rules (群规) version the member accepted; required to join a community that has rules.
RulesVersion = Annotated[int, Field(ge=1, le=1_000_000)]


class Strict(BaseModel):
    """Request bodies: unknown fields and NUL characters are refused (422)."""

    # The document says what ``_no_nul`` checks: no string of the body holds U+0000.
    model_config = ConfigDict(extra="forbid", json_schema_extra=strings_follow(NUL_FREE_PATTERN))

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold U+0000; refused here, it never becomes a driver error.
        if contains_nul(data):
            raise ValueError("text cannot contain the NUL character (U+0000)")
        return data


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
