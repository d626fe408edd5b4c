"""Request and response bodies of the knowledge base."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from content.knowledge.service import Hit
from content.posts.schemas import PostOut
from servicekit.text import Body, Line, Text


class FeatureIn(Body):
    note: Annotated[Line | None, Field(max_length=200)] = Field(
        default=None, description="Why it is 精华 (shown to readers)"
    )


class FeatureOut(BaseModel):
    post_id: str
    note: str | None
    featured_by: str
    featured_at: datetime


class SearchHitOut(BaseModel):
    post: PostOut
    score: float = Field(description="Higher is better; comparable within one answer only")
    featured: bool = Field(description="精华")
    snippet: str = Field(description="About 60 characters around the first hit (… where cut)")
    highlights: list[tuple[int, int]] = Field(
        description="(start, end) character offsets of the hits inside `snippet`, to mark"
    )

    @classmethod
    def of(cls, hit: Hit) -> SearchHitOut:
        return cls(
            post=PostOut.of(hit.post),
            score=round(hit.score, 6),
            featured=hit.featured,
            snippet=hit.snippet.text,
            highlights=list(hit.snippet.highlights),
        )


class SearchOut(BaseModel):
    items: list[SearchHitOut]


class FeaturedPostOut(PostOut):
    featured_at: datetime


class CollectionIn(Body):
    name: Annotated[Line, Field(min_length=1, max_length=100)]
    description: Annotated[Text | None, Field(max_length=500)] = None


class CollectionOut(BaseModel):
    id: str
    community_id: str
    name: str
    description: str | None
    created_at: datetime
    post_count: int = 0


class CollectionDetailOut(CollectionOut):
    posts: list[PostOut] = Field(description="Its posts the caller may see, as they were added")


class TagOut(BaseModel):
    tag: str
    count: int = Field(description="Published posts carrying it that the caller may see")
