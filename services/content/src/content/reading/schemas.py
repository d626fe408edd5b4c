"""Response bodies of reading."""

from __future__ import annotations

from pydantic import Field

from content.engagement.schemas import CommentOut
from content.posts.schemas import LiveUpdateOut, PostOut
from servicekit.pagination import Page


class PostDetailOut(PostOut):
    comments: Page[CommentOut] = Field(
        description="The first comments, oldest first; more at /posts/{post_id}/comments"
    )
    updates: list[LiveUpdateOut] = Field(description="A live post's updates, oldest first")
    liked: bool = Field(description="By the calling member")
    bookmarked: bool = Field(description="By the calling member")
