"""Tables of the insights service (servicekit's outbox, inbox and timers come on top).

Every figure is computed from fact rows whose unique keys are the facts' own identities
(a membership event's kind and time, a post's id, a ledger entry's key), never from
counters: a late, redelivered or replayed event lands on the same row, so the figures
are a function of the set of facts, whatever their order. Each fact keeps its UTC instant
and the local day it falls on in its community's zone (recomputed when the zone changes).
SQLAlchemy Core throughout: a consumer batch applies many events in one session.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from servicekit.types import UtcDateTime


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# --- communities: zones, silence settings and community admins ---------------------------

communities = sa.Table(
    "insights_communities",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("zone_at", UtcDateTime, nullable=True),  # None: the default, nothing heard yet
    sa.Column("silent_after_days", sa.Integer, nullable=True),  # None: the service default
    sa.Column("holdout_percent", sa.Integer, nullable=True),
)

# Community roles onboarding grants (role.granted / role.revoked): a community admin acts
# with a member token and sees the figures of the communities they administer.
grants = sa.Table(
    "insights_grants",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("grant_id", sa.String(200), primary_key=True),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_insights_grants_member", "tenant_id", "member_id"),
)

# --- figures: the facts ------------------------------------------------------------------

# One row per membership: where it came from (the first arrival's source) and its status
# as of the newest status event (an older one never overwrites it).
memberships = sa.Table(
    "insights_memberships",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(200), primary_key=True),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("joined_at", UtcDateTime, nullable=True),
    sa.Column("join_day", sa.Date, nullable=True),
    sa.Column("source_kind", sa.String(32), nullable=True),
    sa.Column("source_code", sa.String(200), nullable=True),
    sa.Column("channel", sa.String(200), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("status_at", UtcDateTime, nullable=True),
    sa.Index("ix_insights_memberships_community", "tenant_id", "community_id", "join_day"),
)

# One row per membership event that moves a figure: joined, activated, paid, renewed,
# refunded, left, removed, expired, banned, reinstated. The key is the fact itself.
membership_events = sa.Table(
    "insights_membership_events",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("at", UtcDateTime, primary_key=True),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Index("ix_insights_membership_events_day", "tenant_id", "community_id", "day"),
)

# One row per engagement (a post, comment, share, check-in, quiz...) and community: the
# key is the thing engaged with, so an event published twice counts once.
engagements = sa.Table(
    "insights_engagements",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("ref", sa.String(200), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Index("ix_insights_engagements_day", "tenant_id", "community_id", "day", "member_id"),
)

# One row per ledger entry: points earned (> 0) and spent (> 0) on its local day.
points = sa.Table(
    "insights_points",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("entry_key", sa.String(300), primary_key=True),
    sa.Column("community_id", sa.String(200), nullable=False),  # "" when none
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("earned", sa.Integer, nullable=False),
    sa.Column("spent", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Index("ix_insights_points_day", "tenant_id", "community_id", "day"),
)

# --- silence -------------------------------------------------------------------------------

# A member's presence in a community: the last engagement (or the arrival), whether the
# membership is active, and the silence in progress, if any.
presence = sa.Table(
    "insights_presence",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("last_engaged_at", UtcDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("silent_since", UtcDateTime, nullable=True),
    sa.Index("ix_insights_presence_silent", "tenant_id", "community_id", "silent_since"),
)

# Every silence episode: contacted or held out, and when (if) the member came back.
silences = sa.Table(
    "insights_silences",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("silent_since", UtcDateTime, primary_key=True),
    sa.Column("held_out", sa.Boolean, nullable=False),
    sa.Column("reactivated_at", UtcDateTime, nullable=True),
    sa.Index("ix_insights_silences_since", "tenant_id", "community_id", "silent_since"),
)

TABLES = (
    communities,
    grants,
    memberships,
    membership_events,
    engagements,
    points,
    presence,
    silences,
)
