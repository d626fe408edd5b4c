"""Tables of the onboarding service (servicekit's outbox, inbox and timers come on top).

Every table carries ``tenant_id`` and every query filters on it. Capacity is guarded by
the database itself: ``CHECK (member_count <= capacity)`` plus conditional increments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
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
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", name="uq_members_external"),
        Index("ix_members_listing", "tenant_id", "created_at", "id"),
    )

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
    # Directory work (directory.py, issue 4): the community's 定位, free-form settings for the
    # apps, the renewal reminder offsets and the trial → core upgrade (domain.routing.AutoUpgrade).
    value_statement: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    renewal_reminder_days: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: [7, 1], server_default="[7, 1]"
    )
    auto_upgrade: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Roles (roles.py): how many guest speakers (嘉宾) at a time; the newcomer greeting.
    guest_speaker_limit: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    welcome_template: Mapped[str | None] = mapped_column(String(2000))
    # Moderation (moderation.py, rules.py): the current rules (群规) version; null: no rules.
    rules_version: Mapped[int | None] = mapped_column(Integer)
    # Members' own invite links (invites.domain.MemberInvitePolicy as JSON); null: the defaults.
    member_invites: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The routing code that seats members whose way in names no group (a direct join, an
    # invite without a target group, an application without a code); null: no group.
    default_routing_code_id: Mapped[str | None] = mapped_column(String(36), default=None)
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
    # Requirements a member must meet to be placed here (domain.routing.eligible), and labels.
    min_tier: Mapped[str | None] = mapped_column(String(20))  # trial (any tier) or core
    min_level: Mapped[int | None] = mapped_column(Integer)
    city: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
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
        Index("ix_memberships_waiting", "tenant_id", "community_id", "seat_waiting_since"),
        Index("ix_memberships_source", "tenant_id", "source_code"),
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
    # Set while a seated member has no group because none had room for them (joins/seating):
    # listed for operators, and handed the next seat that opens in a group they may sit in.
    seat_waiting_since: Mapped[datetime | None] = mapped_column(default=None)
    # The mentor (a member's external id) assigned in turn on arrival; kept afterwards.
    mentor_id: Mapped[str | None] = mapped_column(String(200))
    # Mute reasons (domain.moderation.MuteReasons): muted while either holds. ``muted_until``
    # is the end of the longest running sanction mute; it survives leaving and re-joining.
    muted_until: Mapped[datetime | None]
    rules_muted: Mapped[bool] = mapped_column(default=False, server_default=false())
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
        Index("ix_invite_codes_inviter", "tenant_id", "inviter_id"),
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


class CommunityRole(Base):
    """A community role or title granted to a member; revoking sets ``revoked_at``.

    Rows are never deleted: the history of who held what stays. Active = not revoked.
    """

    __tablename__ = "community_roles"
    __table_args__ = (
        Index("ix_community_roles_holder", "tenant_id", "community_id", "member_id"),
        Index("ix_community_roles_listing", "tenant_id", "community_id", "granted_at", "id"),
        Index("ix_community_roles_member", "tenant_id", "member_id", "granted_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    member_id: Mapped[str] = mapped_column(String(200))  # the member's external id
    role: Mapped[str] = mapped_column(String(20))  # domain.roles.Role
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))  # regional leader
    title: Mapped[str | None] = mapped_column(String(40))  # the title role's text
    reason: Mapped[str | None] = mapped_column(String(500))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))


class MentorRotation(Base):
    """Per community: the mentor grant that took the last newcomer (its key in the turn).

    Locked while choosing the next mentor, so concurrent activations take turns in order.
    """

    __tablename__ = "mentor_rotations"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    community_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    last_granted_at: Mapped[datetime | None]
    last_grant_id: Mapped[str | None] = mapped_column(String(36))


class MemberTag(Base):
    """One tag of a directory member: the portable index behind ``?tag=`` (JSON lists are not
    searchable the same way on SQLite and PostgreSQL). ``members.tags`` stays the source."""

    __tablename__ = "member_tags"
    __table_args__ = (Index("ix_member_tags_tag", "tenant_id", "tag", "member_id"),)

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))


class RenewalReminder(Base):
    """A renewal reminder that was published: one per membership, term end and offset, so a
    timer that fires twice (or is re-armed for the same term) publishes once."""

    __tablename__ = "renewal_reminders"

    membership_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    term_ends_at: Mapped[datetime] = mapped_column(primary_key=True)
    days_before: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    sent_at: Mapped[datetime]


class CommunityRules(Base):
    """One published version of a community's rules (群规); the highest version is current."""

    __tablename__ = "community_rules"
    __table_args__ = (
        UniqueConstraint("community_id", "version", name="uq_community_rules_version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(20000))
    summary: Mapped[str] = mapped_column(String(2000))  # what changed since the last version
    grace_days: Mapped[int] = mapped_column(Integer)
    grace_ends_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]  # published


class RulesAcceptance(Base):
    """A member accepted a version of a community's rules (at joining, or later)."""

    __tablename__ = "rules_acceptances"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    community_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    accepted_at: Mapped[datetime]


class ModerationLadder(Base):
    """A community's own escalation ladder (domain.moderation.Ladder); absent: the default."""

    __tablename__ = "moderation_ladders"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{kind, duration_hours}]
    strike_decay_days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class Report(Base):
    """A member's report on a member or a piece of content: the moderation queue.

    ``open_key`` (a digest of community, reporter, target, category) is set while the report
    is open: the unique constraint makes a repeated report return the open one (NULLs never
    collide, so resolved reports do not count).
    """

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("tenant_id", "open_key", name="uq_reports_open"),
        Index("ix_reports_queue", "tenant_id", "created_at", "id"),
        Index("ix_reports_community", "tenant_id", "community_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    reporter_id: Mapped[str] = mapped_column(String(200))
    target_kind: Mapped[str] = mapped_column(String(10))  # member, content
    target_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20))  # open, dismissed, actioned
    open_key: Mapped[str | None] = mapped_column(String(64))
    sanction_id: Mapped[str | None] = mapped_column(String(36))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Sanction(Base):
    """A warning, mute, removal or ban of a member in a community; a strike unless overturned.

    ``restore`` lists the memberships the sanction moved ({membership_id, status, group_id}
    before it), so an overturn puts each back.
    """

    __tablename__ = "sanctions"
    __table_args__ = (
        Index("ix_sanctions_member", "tenant_id", "community_id", "member_id", "created_at"),
        Index("ix_sanctions_listing", "tenant_id", "community_id", "created_at", "id"),
        Index("ix_sanctions_membership", "membership_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("memberships.id"))
    member_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # domain.moderation.SanctionKind
    status: Mapped[str] = mapped_column(String(12))  # domain.moderation.SanctionStatus
    step: Mapped[int | None] = mapped_column(Integer)  # the ladder step; null: explicit kind
    ends_at: Mapped[datetime | None]  # mutes
    tenant_wide: Mapped[bool]
    report_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    issued_by: Mapped[str] = mapped_column(String(200))
    restore: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]  # issued
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(200))
    end_reason: Mapped[str | None] = mapped_column(String(500))


class TenantBan(Base):
    """A tenant-wide ban: the member joins no community of the tenant until it is lifted."""

    __tablename__ = "tenant_bans"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    sanction_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]


class Appeal(Base):
    """A member's appeal of a sanction: one per sanction, upheld or overturned with a reason."""

    __tablename__ = "appeals"
    __table_args__ = (
        UniqueConstraint("sanction_id", name="uq_appeals_sanction"),
        Index("ix_appeals_queue", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    sanction_id: Mapped[str] = mapped_column(ForeignKey("sanctions.id"))
    member_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(12))  # pending, upheld, overturned
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
