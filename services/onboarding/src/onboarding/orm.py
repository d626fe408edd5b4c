"""Tables of the onboarding service (servicekit's outbox, inbox and timers come on top).

Every table carries ``tenant_id`` and every query filters on it. Capacity is guarded by
the database itself: ``CHECK (member_count <= capacity)`` plus conditional increments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.types import UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Member(Base):
    """The member directory: one row per member of a tenant, keyed by the tenant's own id."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_members_external"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    external_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(200))
    profile: Mapped[dict[str, Any]]
    tags: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug", name="uq_communities_slug"),
        CheckConstraint("price_cents IS NULL OR price_cents > 0", name="ck_communities_price"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    slug: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000))
    visibility: Mapped[str] = mapped_column(String(20))  # public, private, secret
    timezone: Mapped[str] = mapped_column(String(64))
    join_policy: Mapped[str] = mapped_column(String(20))  # open, paid
    price_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    term_kind: Mapped[str | None] = mapped_column(String(10))  # rolling, fixed
    term_days: Mapped[int | None] = mapped_column(Integer)
    term_fixed_ends_at: Mapped[datetime | None]
    trial_days: Mapped[int] = mapped_column(Integer)
    refund_window_hours: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("community_id", "name", name="uq_groups_name"),
        CheckConstraint("member_count >= 0", name="ck_groups_count_positive"),
        CheckConstraint("member_count <= capacity", name="ck_groups_capacity"),
        CheckConstraint("capacity > 0", name="ck_groups_capacity_positive"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # trial, core, interest, local, temporary
    capacity: Mapped[int] = mapped_column(Integer)
    member_count: Mapped[int] = mapped_column(Integer)
    routing_code_id: Mapped[str | None] = mapped_column(String(36))  # set on overflow groups
    created_at: Mapped[datetime]


class RoutingCode(Base):
    """群活码: one code that fills its groups in turn and opens overflow groups."""

    __tablename__ = "routing_codes"
    __table_args__ = (UniqueConstraint("tenant_id", "code", name="uq_routing_codes_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(100))
    group_ids: Mapped[list[str]]  # the eligible groups chosen by the operator
    overflow_prefix: Mapped[str] = mapped_column(String(150))
    overflow_kind: Mapped[str] = mapped_column(String(20))
    overflow_capacity: Mapped[int] = mapped_column(Integer)
    overflow_count: Mapped[int] = mapped_column(Integer)  # running number of overflow groups
    created_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "community_id", "member_id", name="uq_memberships_member"),
        Index("ix_memberships_listing", "tenant_id", "community_id", "created_at", "id"),
        Index("ix_memberships_member", "tenant_id", "member_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    member_id: Mapped[str] = mapped_column(String(200))  # the member's external id
    status: Mapped[str] = mapped_column(String(24))
    tier: Mapped[str] = mapped_column(String(20))  # trial, core
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    routing_code_id: Mapped[str | None] = mapped_column(String(36))
    source_kind: Mapped[str] = mapped_column(String(20))
    source_code: Mapped[str | None] = mapped_column(String(64))
    source_channel: Mapped[str | None] = mapped_column(String(100))
    inviter_id: Mapped[str | None] = mapped_column(String(200))
    trial_used: Mapped[bool]
    activated_at: Mapped[datetime | None]
    term_ends_at: Mapped[datetime | None]
    refund_window_ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]


class Payment(Base):
    """A payment confirmed by the tenant's backend; its reference is unique per tenant."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("tenant_id", "reference", name="uq_payments_reference"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    membership_id: Mapped[str] = mapped_column(ForeignKey("memberships.id"), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime]
    refund_window_ends_at: Mapped[datetime]
    refunded_at: Mapped[datetime | None]
