"""Request and response bodies of posts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from content.audience.domain import TENANT_WIDE, Audience, CommunityRole, GroupKind, Tier
from content.moderation.schemas import FlagOut
from content.posts.domain import MAX_URL, Link, Media, MediaType, PostKind
from content.posts.repository import Row
from content.posts.service import Draft
from servicekit.text import Body, Line, Text, visible_text

Id = Annotated[Line, Field(min_length=1, max_length=200)]
Tag = Annotated[Line, Field(min_length=1, max_length=32)]
Title = Annotated[Line, Field(min_length=1, max_length=200)]
PostBody = Annotated[Text, Field(max_length=20_000)]
# A reason is read by a person: blank-only is no reason.
Reason = Annotated[str, visible_text(1, 500)]
Url = Annotated[Line, Field(min_length=1, max_length=MAX_URL)]


class MediaIn(Body):
    url: Url = Field(description="https URL of the file (the app's storage or CDN)")
    type: MediaType
    mime_type: Annotated[Line, Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")]
    size_bytes: Annotated[int, Field(ge=1, le=2**53)]
    duration_s: Annotated[int | None, Field(ge=1, le=10**7)] = Field(
        default=None, description="Audio and video only"
    )
    name: Annotated[Line | None, Field(max_length=200)] = None

    def value(self) -> Media:
        return Media(
            self.url, self.type, self.mime_type, self.size_bytes, self.duration_s, self.name
        )


class LinkIn(Body):
    url: Url
    title: Annotated[Line | None, Field(max_length=200)] = None

    def value(self) -> Link:
        return Link(self.url, self.title)


class AudienceIn(Body):
    """Who sees the post. Axes combine with AND; the values of one axis with OR."""

    tenant_wide: bool = Field(default=False, description="Every community of the tenant")
    community_ids: Annotated[list[Id], Field(max_length=200)] = Field(default_factory=list)
    group_kinds: Annotated[list[GroupKind], Field(max_length=4, default_factory=list)]
    tiers: Annotated[list[Tier], Field(max_length=2, default_factory=list)]
    min_level: Annotated[int | None, Field(ge=1, le=1000)] = None
    roles: Annotated[
        list[CommunityRole],
        Field(max_length=7, description="Community roles", default_factory=list),
    ]

    @model_validator(mode="after")
    def _scope(self) -> AudienceIn:
        if self.tenant_wide == bool(self.community_ids):
            raise ValueError("give either tenant_wide or community_ids, not both or neither")
        if TENANT_WIDE in self.community_ids:
            raise ValueError(f"{TENANT_WIDE!r} is not a community id")
        return self

    def value(self) -> Audience:
        return Audience(
            tenant_wide=self.tenant_wide,
            community_ids=frozenset(self.community_ids),
            group_kinds=frozenset(kind.value for kind in self.group_kinds),
            tiers=frozenset(tier.value for tier in self.tiers),
            min_level=self.min_level,
            roles=frozenset(role.value for role in self.roles),
        )


class PostIn(Body):
    kind: PostKind
    title: Title | None = None
    body: PostBody = ""
    media: Annotated[list[MediaIn], Field(max_length=9, default_factory=list)]
    link: LinkIn | None = None
    audience: AudienceIn
    tags: Annotated[list[Tag], Field(max_length=10, default_factory=list)]
    pinned: bool = Field(default=False, description="An announcement (群公告); operators only")

    @model_validator(mode="after")
    def _pin(self) -> PostIn:
        if self.pinned and self.audience.tenant_wide:
            raise ValueError("an announcement is pinned in communities: give community_ids")
        return self

    def draft(self) -> Draft:
        return Draft(
            kind=self.kind,
            title=self.title,
            body=self.body,
            media=tuple(item.value() for item in self.media),
            link=self.link.value() if self.link else None,
            audience=self.audience.value(),
            tags=tuple(dict.fromkeys(self.tags)),
            pinned=self.pinned,
        )


class PostPatch(Body):
    title: Title | None = None
    body: PostBody | None = None
    media: Annotated[list[MediaIn] | None, Field(max_length=9)] = None
    link: LinkIn | None = None
    tags: Annotated[list[Tag] | None, Field(max_length=10)] = None
    pinned: bool | None = None


class DeleteIn(Body):
    reason: Reason


class UpdateIn(Body):
    body: PostBody = ""
    media: Annotated[list[MediaIn], Field(max_length=9, default_factory=list)]


class MediaOut(BaseModel):
    url: str
    type: str
    mime_type: str
    size_bytes: int
    duration_s: int | None
    name: str | None


class LinkOut(BaseModel):
    url: str
    title: str | None


class AudienceOut(BaseModel):
    tenant_wide: bool
    community_ids: list[str]
    group_kinds: list[str]
    tiers: list[str]
    min_level: int | None
    roles: list[str]


class PostOut(BaseModel):
    id: str
    author_id: str
    author_kind: str
    kind: str
    title: str | None
    body: str
    media: list[MediaOut]
    link: LinkOut | None
    audience: AudienceOut
    tags: list[str]
    pinned: bool
    review_state: str
    review_reason: str | None
    version: int
    comment_count: int
    like_count: int
    share_count: int
    bookmark_count: int
    view_count: int = 0
    moderation: FlagOut | None = None  # the auto-moderation rule that held it
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    delete_reason: str | None

    @classmethod
    def of(cls, row: Row) -> PostOut:
        data: dict[str, Any] = dict(row._mapping)
        data["audience"] = Audience.from_json(row.audience).to_json()
        return cls.model_validate(data)


class RevisionOut(BaseModel):
    version: int
    title: str | None
    body: str
    media: list[MediaOut]
    link: LinkOut | None
    tags: list[str]
    edited_by: str
    edited_at: datetime


class LiveUpdateOut(BaseModel):
    id: str
    body: str
    media: list[MediaOut]
    created_by: str
    created_at: datetime
