"""Tables of the content service (servicekit's outbox, inbox and timers come on top).

Queries use these tables through SQLAlchemy Core, as rewards does: a consumer batch
applies many events in one session, and Core rows are never stale between two of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from servicekit.types import UtcDateTime


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# --- audience: the projection of onboarding's and rewards' events -------------------------

# One row per membership. Three parts move independently, each with the time of the event
# that last set it, so an older event never overwrites newer state (order-tolerant).
memberships = sa.Table(
    "audience_memberships",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_at", UtcDateTime, nullable=False),
    sa.Column("tier", sa.String(16), nullable=True),
    sa.Column("group_id", sa.String(200), nullable=True),
    sa.Column("placed_at", UtcDateTime, nullable=True),
    sa.Column("muted_until", UtcDateTime, nullable=True),
    sa.Column("rules_muted", sa.Boolean, nullable=False),
    sa.Column("mute_at", UtcDateTime, nullable=True),
    sa.Index("ix_audience_memberships_member", "tenant_id", "member_id"),
)

# The tenant's communities (onboarding's community.created): ids from another tenant, or
# made up, are unknown here and answer 404.
communities = sa.Table(
    "audience_communities",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The community's IANA zone (community.created/updated): its wall-clock times
    # (schedules) and days. Null: not announced (events older than the field).
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("timezone_at", UtcDateTime, nullable=True),  # the event that set it
)

member_levels = sa.Table(
    "audience_levels",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
)

groups = sa.Table(
    "audience_groups",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("group_id", sa.String(200), primary_key=True),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
)

# Community roles (mentor, guest, title, ...) granted to members; a revoke deletes the grant.
member_roles = sa.Table(
    "audience_roles",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("grant_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Index("ix_audience_roles_member", "tenant_id", "member_id"),
)

# --- posts -------------------------------------------------------------------------------

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("author_id", sa.String(200), nullable=False),
    sa.Column("author_kind", sa.String(16), nullable=False),  # operator | member
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("media", sa.JSON, nullable=False),
    sa.Column("link", sa.JSON, nullable=True),
    sa.Column("audience", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("pinned", sa.Boolean, nullable=False),  # an announcement (群公告)
    sa.Column("review_state", sa.String(16), nullable=False),
    sa.Column("review_reason", sa.String(500), nullable=True),
    sa.Column("reviewed_by", sa.String(200), nullable=True),
    sa.Column("reviewed_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("deleted_by", sa.String(200), nullable=True),
    sa.Column("delete_reason", sa.String(500), nullable=True),
    sa.Column("comment_count", sa.Integer, nullable=False),
    sa.Column("like_count", sa.Integer, nullable=False),
    sa.Column("share_count", sa.Integer, nullable=False),
    sa.Column("bookmark_count", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # Feed "top" (top.domain.score): views once per member, the stored score re-computed
    # whenever a counter moves. Defaults let writers that predate them insert posts.
    sa.Column("view_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("top_score", sa.Float, nullable=False, server_default="0"),
    # The auto-moderation rule that held it ({rule_id, kind, pattern, action}), else null.
    sa.Column("moderation", sa.JSON, nullable=True),
    sa.CheckConstraint(
        "comment_count >= 0 AND like_count >= 0 AND share_count >= 0 AND bookmark_count >= 0",
        name="ck_posts_counters",
    ),
    sa.Index("ix_posts_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_posts_tenant_review", "tenant_id", "review_state", "created_at", "id"),
    sa.Index("ix_posts_tenant_author", "tenant_id", "author_id", "created_at", "id"),
    sa.Index("ix_posts_tenant_top", "tenant_id", "top_score", "id"),
)

# The communities a post is published in: one stored post, one row per community, so a
# community's posts are an index range read.
post_communities = sa.Table(
    "post_communities",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_post_communities_community", "tenant_id", "community_id", "created_at", "post_id"),
)

post_revisions = sa.Table(
    "post_revisions",
    metadata,
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("media", sa.JSON, nullable=False),
    sa.Column("link", sa.JSON, nullable=True),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("edited_by", sa.String(200), nullable=False),
    sa.Column("edited_at", UtcDateTime, nullable=False),
)

# 图文直播: the timed updates appended to a live-text post.
live_updates = sa.Table(
    "live_updates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("media", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_live_updates_post", "post_id", "created_at", "id"),
)

community_settings = sa.Table(
    "community_settings",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    # Members at this level or above publish without review; null: everything is reviewed.
    sa.Column("auto_approve_level", sa.Integer, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# --- engagement --------------------------------------------------------------------------

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),  # one level of replies
    sa.Column("author_id", sa.String(200), nullable=False),
    sa.Column("author_kind", sa.String(16), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),  # the seat it went through
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("review_state", sa.String(16), nullable=False),
    sa.Column("review_reason", sa.String(500), nullable=True),
    sa.Column("reviewed_by", sa.String(200), nullable=True),
    sa.Column("reviewed_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("moderation", sa.JSON, nullable=True),  # the rule that held it, as on posts
    sa.Index("ix_comments_post", "post_id", "created_at", "id"),
    sa.Index("ix_comments_tenant_review", "tenant_id", "review_state", "created_at", "id"),
    # flood control counts a member's recent comments
    sa.Index("ix_comments_tenant_author", "tenant_id", "author_id", "created_at"),
)

# Likes and bookmarks: one row per (post, member, kind); the counter moves only when the
# row is inserted or deleted, so a repeated like changes nothing.
marks = sa.Table(
    "post_marks",
    metadata,
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # like | bookmark
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_post_marks_member", "tenant_id", "member_id", "kind", "created_at"),
)

# A share link per (post, sharer): the token names the sharer, so whoever it brings in can
# be credited to them later.
shares = sa.Table(
    "shares",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), nullable=False),
    sa.Column("sharer_id", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("post_id", "sharer_id", name="uq_shares_post_sharer"),
)

# 推荐: an operator recommends a published post, once; the event credits its member author
# (rewards' "recommendation" rule) and a rejection later reverses it.
recommendations = sa.Table(
    "recommendations",
    metadata,
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("recommended_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --- schedules -----------------------------------------------------------------------

# A post to publish at a time: the draft as the operator wrote it (checked when it was
# scheduled), published by a servicekit timer (kind ``content.schedule``, key = id).
scheduled_posts = sa.Table(
    "scheduled_posts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("publish_at", UtcDateTime, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=True),  # the zone a wall-clock time was in
    sa.Column("draft", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("post_id", sa.String(36), nullable=True),  # once published
    sa.Column("failure", sa.String(500), nullable=True),
    sa.Index("ix_scheduled_posts_tenant", "tenant_id", "publish_at", "id"),
)

# A recurring post (早安/晚安, weekly themes): a template and an RRULE read in the wall clock
# of its communities, grouped by zone when it was made (``zones``: zone → community ids).
# Each zone's next occurrence is a servicekit timer (kind ``content.recurring``).
recurring_posts = sa.Table(
    "recurring_posts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # active | stopped
    sa.Column("rule", sa.String(500), nullable=False),
    sa.Column("start", sa.String(32), nullable=False),  # naive local ISO date-time
    sa.Column("zones", sa.JSON, nullable=False),
    sa.Column("draft", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_recurring_posts_tenant", "tenant_id", "created_at", "id"),
)

# One row per occurrence and zone that went out: what makes each one publish once.
recurring_runs = sa.Table(
    "recurring_runs",
    metadata,
    sa.Column("recurring_id", sa.String(36), sa.ForeignKey("recurring_posts.id"), primary_key=True),
    sa.Column("zone", sa.String(64), primary_key=True),
    sa.Column("occurrence", UtcDateTime, primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("post_id", sa.String(36), nullable=True),
    sa.Column("failure", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --- daily digest (日报) ----------------------------------------------------------------

digest_settings = sa.Table(
    "digest_settings",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("local_time", sa.String(5), nullable=False),  # HH:MM in the community's zone
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# One row per community and local day compiled: what makes a day's digest go out once.
digests = sa.Table(
    "digests",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("post_id", sa.String(36), nullable=True),  # null: nothing engaged that day
    sa.Column("post_ids", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# An operator's edit of a day's digest before it goes out: published instead of the text
# compiled (the ranking still names the posts in the event).
digest_edits = sa.Table(
    "digest_edits",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# --- knowledge base ----------------------------------------------------------------------

# The search index (knowledge.domain.grams): every distinct character and adjacent pair of
# a post's title, body and tags. A query reads its grams' ranges of the primary key.
post_grams = sa.Table(
    "post_grams",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("gram", sa.String(8), primary_key=True),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Index("ix_post_grams_post", "post_id"),
)

# A post's tags as rows, for a community's tag list and the tag filter.
post_tags = sa.Table(
    "post_tags",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("tag", sa.String(32), primary_key=True),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Index("ix_post_tags_post", "post_id"),
)

# 精华: a post an operator marked as featured (one row per post; unmarking deletes it).
post_features = sa.Table(
    "post_features",
    metadata,
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("note", sa.String(200), nullable=True),
    sa.Column("featured_by", sa.String(200), nullable=False),
    sa.Column("featured_at", UtcDateTime, nullable=False),
    sa.Index("ix_post_features_tenant", "tenant_id", "featured_at", "post_id"),
)

# A community's collections (专题) of posts, in the order they were added.
collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "community_id", "name", name="uq_collections_name"),
)

collection_posts = sa.Table(
    "collection_posts",
    metadata,
    sa.Column("collection_id", sa.String(36), sa.ForeignKey("collections.id"), primary_key=True),
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("added_by", sa.String(200), nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Index("ix_collection_posts_order", "collection_id", "added_at", "post_id"),
)

# --- newcomer sequences (SOP) ------------------------------------------------------------

sequences = sa.Table(
    "sequences",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),  # null: every community
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # welcomed | activated | silent
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_sequences_tenant", "tenant_id", "trigger"),
)

# One run per sequence, membership and occasion: a repeated trigger starts nothing new.
# The occasion is empty for newcomer sequences (once per membership) and the silence's
# start for reactivation ones (once per silence).
sequence_runs = sa.Table(
    "sequence_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("sequence_id", sa.String(36), sa.ForeignKey("sequences.id"), nullable=False),
    sa.Column("membership_id", sa.String(200), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("tier", sa.String(16), nullable=True),  # at the start
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("next_step", sa.Integer, nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("stop_reason", sa.String(32), nullable=True),
    sa.Column("occasion", sa.String(40), nullable=False, server_default=""),
    sa.UniqueConstraint(
        "sequence_id", "membership_id", "occasion", name="uq_sequence_runs_occasion"
    ),
    sa.Index("ix_sequence_runs_membership", "tenant_id", "membership_id"),
    # A member's reactivation runs in a community, stopped when they come back.
    sa.Index("ix_sequence_runs_member", "tenant_id", "member_id", "community_id"),
)

# A step a run reached, once (the primary key): delivered or skipped by its condition.
sequence_steps = sa.Table(
    "sequence_steps",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("sequence_runs.id"), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("sequence_id", sa.String(36), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_sequence_steps_sequence", "sequence_id", "step", "outcome"),
)

# --- feed "top" --------------------------------------------------------------------------

# A member's view of a post, once: the view counter moves only when this row is new.
post_views = sa.Table(
    "post_views",
    metadata,
    sa.Column("post_id", sa.String(36), sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("viewed_at", UtcDateTime, nullable=False),
)

# --- auto-moderation ---------------------------------------------------------------------

# Keyword and link rules of a tenant; ``pattern`` is the compared form (normalised keyword,
# ASCII host), unique per tenant and kind; ``written`` is what the operator typed.
moderation_rules = sa.Table(
    "moderation_rules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # keyword | link
    sa.Column("pattern", sa.String(300), nullable=False),
    sa.Column("written", sa.String(200), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),  # block | hold | allow
    sa.Column("strike", sa.Boolean, nullable=False),
    sa.Column("note", sa.String(200), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "kind", "pattern", name="uq_moderation_rules_pattern"),
    sa.Index("ix_moderation_rules_tenant", "tenant_id", "created_at", "id"),
)

# Flood control (刷屏): the tenant's default (scope "*") and communities' own limits. A
# community row with ``max_items`` null turns flood control off there.
flood_limits = sa.Table(
    "flood_limits",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("scope", sa.String(200), primary_key=True),  # a community id, or "*"
    sa.Column("max_items", sa.Integer, nullable=True),
    sa.Column("window_seconds", sa.Integer, nullable=True),
    sa.Column("action", sa.String(8), nullable=False),  # block | hold
    sa.Column("strike", sa.Boolean, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
