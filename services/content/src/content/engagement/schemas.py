"""Response bodies of engagement."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from content.moderation.schemas import FlagOut
from content.posts.repository import Row


class CommentOut(BaseModel):
    id: str
    post_id: str
    parent_id: str | None
    author_id: str
    author_kind: str
    community_id: str | None
    body: str
    review_state: str
    review_reason: str | None
    created_at: datetime
    moderation: FlagOut | None = None  # the auto-moderation rule that held it

    @classmethod
    def of(cls, row: Row) -> CommentOut:
        return cls.model_validate(dict(row._mapping))
