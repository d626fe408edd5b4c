"""Request and response bodies of the onboarding API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,58}[a-z0-9])$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
GroupKind = Literal["trial", "core", "interest", "local", "temporary"]
Capacity = Annotated[int, Field(ge=1, le=100_000)]

T = TypeVar("T")
_TIMEZONES = frozenset(available_timezones())


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupCreate(Strict):
    name: Name
    kind: GroupKind = "core"
    capacity: Capacity = 500


class CommunityCreate(Strict):
    slug: Slug
    name: Name
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    visibility: Literal["public", "private", "secret"] = "public"
    timezone: str = "Asia/Shanghai"
    join_policy: Literal["open", "paid"] = "open"
    price_cents: Annotated[int, Field(gt=0, le=100_000_000)] | None = None
    currency: Currency | None = None
    term_kind: Literal["rolling", "fixed"] | None = None
    term_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    term_fixed_ends_at: AwareDatetime | None = None
    trial_days: Annotated[int, Field(ge=0, le=365)] = 0
    refund_window_hours: Annotated[int, Field(ge=0, le=8760)] = 0
    groups: Annotated[list[GroupCreate], Field(max_length=50)] = []

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _TIMEZONES:
            raise ValueError("an IANA time zone such as Asia/Shanghai")
        return value


class CommunityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
    description: str
    visibility: str
    timezone: str
    join_policy: str
    price_cents: int | None
    currency: str | None
    term_kind: str | None
    term_days: int | None
    term_fixed_ends_at: datetime | None
    trial_days: int
    refund_window_hours: int
    created_at: datetime


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    name: str
    kind: str
    capacity: int
    member_count: int
    routing_code_id: str | None
    created_at: datetime


class RoutingCodeCreate(Strict):
    community_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    code: Code
    group_ids: Annotated[list[str], Field(min_length=1, max_length=100)]
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    overflow_prefix: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    overflow_kind: GroupKind = "core"
    overflow_capacity: Capacity = 500


class RoutingCodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    code: str
    channel: str | None
    group_ids: list[str]
    overflow_prefix: str
    overflow_kind: str
    overflow_capacity: int
    overflow_count: int
    created_at: datetime


class Source(BaseModel):
    kind: str
    code: str | None
    channel: str | None
    inviter_id: str | None


class MembershipOut(BaseModel):
    id: str
    community_id: str
    member_id: str
    status: str
    tier: str
    group_id: str | None
    source: Source
    activated_at: datetime | None
    term_ends_at: datetime | None
    refund_window_ends_at: datetime | None
    created_at: datetime
    status_changed_at: datetime

    @classmethod
    def of(cls, row: Any) -> MembershipOut:
        source = Source(
            kind=row.source_kind,
            code=row.source_code,
            channel=row.source_channel,
            inviter_id=row.inviter_id,
        )
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "source"}
        return cls(source=source, **fields)


class PaymentCreate(Strict):
    reference: Reference  # the payment's id in the tenant's payment system
    community_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    member_id: ExternalId
    amount_cents: Annotated[int, Field(gt=0, le=100_000_000)]
    currency: Currency


class PaymentOut(BaseModel):
    payment_id: str
    membership: MembershipOut


class RefundCreate(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class ProfileOut(BaseModel):
    member_id: str
    display_name: str | None
    profile: dict[str, Any]
    tags: list[str]
