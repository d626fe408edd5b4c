"""Response bodies auto-moderation adds to posts and comments."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FlagOut(BaseModel):
    """The auto-moderation rule that held an item for review."""

    rule_id: str | None = Field(description="null for flood control")
    kind: str = Field(description="keyword, link or flood")
    pattern: str = Field(description="The rule's pattern as written, or the flood limit")
    action: str
