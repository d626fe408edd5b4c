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
    # The questionnaire (domain.applications.Questionnaire as JSON); set = joining takes an
    # application. Combines with the paid terms above: application first, then payment.
    application_form: Mapped[dict[str, Any] | None]
    min_level: Mapped[int | None] = mapped_column(Integer)  # set: joining needs this level
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
    # The group an invite asked for; the member sits there on activation if it has room.
    target_group_id: Mapped[str | None] = mapped_column(String(36))
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


class Application(Base):
    """A member's answers to a community's questionnaire, waiting for (or given) a decision."""

    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_queue", "tenant_id", "status", "created_at", "id"),
        Index("ix_applications_membership", "membership_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("memberships.id"))
    member_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # pending, approved, rejected
    answers: Mapped[dict[str, Any]]
    auto: Mapped[bool]  # decided by a rule at submit time, not by a reviewer
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]  # submitted
    decided_at: Mapped[datetime | None]


class InviteCode(Base):
    """邀请码: single or multi use, with expiry, the inviting member and a target group.

    ``CHECK (uses <= max_uses)`` backs the conditional increment that redeems a use.
    """

    __tablename__ = "invite_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code", name="uq_invite_codes_code"),
        Index("ix_invite_codes_listing", "tenant_id", "community_id", "created_at", "id"),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="ck_invite_codes_max_positive"),
        CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="ck_invite_codes_uses"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    code: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(100))
    inviter_id: Mapped[str | None] = mapped_column(String(200))  # a member's external id
    target_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    max_uses: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    uses: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class MemberLevel(Base):
    """The member's level as rewards last reported it (quanzi.rewards.level.changed.v1)."""

    __tablename__ = "member_levels"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime]


class AuditRecord(Base):
    """One moderator or operator action: who did what to which target, why and when.

    Written in the action's own transaction (audit.record), so an action without its record,
    or a record of an action that rolled back, cannot exist. Never updated or deleted.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_listing", "tenant_id", "created_at", "id"),
        Index("ix_audit_log_target", "tenant_id", "target_id", "created_at"),
        Index("ix_audit_log_actor", "tenant_id", "actor_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    actor_id: Mapped[str] = mapped_column(String(200))
    actor_kind: Mapped[str] = mapped_column(String(20))  # operator, member, integration, system
    action: Mapped[str] = mapped_column(String(60))  # e.g. sanction.issued, application.approved
    target_kind: Mapped[str] = mapped_column(String(30))  # membership, community, member, ...
    target_id: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[str | None] = mapped_column(String(36), index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
