"""Tables of the activities service (servicekit's outbox, inbox and timers come on top).

Queries use these tables through SQLAlchemy Core: a consumer batch applies many events in
one session, and Core rows are never stale between two of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from servicekit.types import UtcDateTime


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# --- members: the projection of onboarding's membership and community events -----------

# One row per membership; its status and its group each keep the time of the event that
# set them, so an older event never overwrites newer state (order-tolerant).
memberships = sa.Table(
    "members_memberships",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_at", UtcDateTime, nullable=True),
    sa.Column("group_id", sa.String(200), nullable=True),
    sa.Column("placed_at", UtcDateTime, nullable=True),
    sa.Column("tier", sa.String(64), nullable=True),
    sa.Column("tier_at", UtcDateTime, nullable=True),
    sa.Index("ix_members_memberships_member", "tenant_id", "member_id", "community_id"),
)

# Each member's level in the tenant (rewards' level.changed), for draws' minimum level.
levels = sa.Table(
    "members_levels",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("level_at", UtcDateTime, nullable=False),
)

# The tenant's communities and the zone whose midnights start their days.
communities = sa.Table(
    "members_communities",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("community_id", sa.String(200), primary_key=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("zone_at", UtcDateTime, nullable=False),
)

# --- challenges (打卡) ---------------------------------------------------------------------

challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("group_id", sa.String(200), nullable=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("rules_text", sa.Text, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("window_start", sa.Time, nullable=True),
    sa.Column("window_end", sa.Time, nullable=True),
    sa.Column("requires", sa.JSON, nullable=False),
    sa.Column("min_text_length", sa.Integer, nullable=False),
    sa.Column("required_days", sa.Integer, nullable=False),
    sa.Column("makeup_cards", sa.Integer, nullable=False),
    sa.Column("makeup_days", sa.Integer, nullable=False),
    sa.Column("grace_days", sa.Integer, nullable=False),
    sa.Column("milestones", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_challenges_tenant_community", "tenant_id", "community_id"),
)

# One row per member and day: the unique key is what makes "once a day" hold under any
# concurrency (a second check-in for the day loses on it and answers 409).
checkins = sa.Table(
    "checkins",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("challenge_id", sa.String(36), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("make_up", sa.Boolean, nullable=False),
    sa.Column("checked_at", UtcDateTime, nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("images", sa.JSON, nullable=False),
    sa.Column("link", sa.String(2000), nullable=True),
    sa.Column("number", sa.Float, nullable=True),
    sa.UniqueConstraint(
        "tenant_id", "challenge_id", "member_id", "day", name="uq_checkins_member_day"
    ),
    sa.Index("ix_checkins_day", "tenant_id", "challenge_id", "day", "checked_at"),
)

# A member's standing in a challenge, kept beside the check-ins for the leaderboard.
participants = sa.Table(
    "challenge_participants",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("challenge_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("streak", sa.Integer, nullable=False),  # of the last streak
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("best_streak", sa.Integer, nullable=False),
    sa.Column("makeups_used", sa.Integer, nullable=False),
    sa.Column("milestones", sa.JSON, nullable=False),
    sa.Column("first_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("makeups_used >= 0", name="ck_participants_makeups"),
)

# --- quizzes ---------------------------------------------------------------------------

# The tenant's question bank. ``answer`` never leaves the service before a submission.
questions = sa.Table(
    "questions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("answer", sa.JSON, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_questions_tenant", "tenant_id", "created_at"),
)

quizzes = sa.Table(
    "quizzes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("question_ids", sa.JSON, nullable=False),  # fixed, or the pool to draw from
    sa.Column("draw_count", sa.Integer, nullable=True),  # None: every question, in order
    sa.Column("time_limit_s", sa.Integer, nullable=True),
    sa.Column("attempts_allowed", sa.Integer, nullable=False),
    sa.Column("pass_percent", sa.Integer, nullable=False),
    sa.Column("opens_at", UtcDateTime, nullable=False),
    sa.Column("closes_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_quizzes_tenant", "tenant_id", "created_at"),
)

# One row per attempt; (member, number) unique so concurrent starts never exceed the
# attempts allowed, and the submission is a conditional update (scored once).
quiz_attempts = sa.Table(
    "quiz_attempts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("quiz_id", sa.String(36), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("question_ids", sa.JSON, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("deadline_at", UtcDateTime, nullable=False),
    sa.Column("submitted_at", UtcDateTime, nullable=True),
    sa.Column("answers", sa.JSON, nullable=True),
    sa.Column("correct", sa.Integer, nullable=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("passed", sa.Boolean, nullable=True),
    sa.UniqueConstraint(
        "tenant_id", "quiz_id", "member_id", "number", name="uq_quiz_attempts_number"
    ),
)

# --- polls ------------------------------------------------------------------------------

polls = sa.Table(
    "polls",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("max_choices", sa.Integer, nullable=False),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    sa.Column("changeable", sa.Boolean, nullable=False),
    sa.Column("results", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # choice, rating or text
    sa.Column("closes_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),  # when it closed (time or operator)
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_polls_tenant", "tenant_id", "created_at"),
)

# One vote per member and poll: the primary key makes it hold under any concurrency.
poll_votes = sa.Table(
    "poll_votes",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("poll_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("choices", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=True),  # a free-text answer
    sa.Column("voted_at", UtcDateTime, nullable=False),
)

# --- draws ------------------------------------------------------------------------------

# ``seed`` stays inside the service until the draw (only ``seed_hash`` is shown before).
draws = sa.Table(
    "draws",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("group_id", sa.String(200), nullable=True),
    sa.Column("challenge_id", sa.String(36), nullable=True),  # eligibility: took part in it
    sa.Column("min_level", sa.Integer, nullable=True),  # eligibility: rewards' level
    sa.Column("tiers", sa.JSON, nullable=True),  # eligibility: the membership's tier
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("prizes", sa.JSON, nullable=False),
    sa.Column("miss_weight", sa.Integer, nullable=False),
    sa.Column("claim_days", sa.Integer, nullable=False),
    sa.Column("opens_at", UtcDateTime, nullable=False),
    sa.Column("closes_at", UtcDateTime, nullable=False),
    sa.Column("seed", sa.String(64), nullable=False),
    sa.Column("seed_hash", sa.String(64), nullable=False),
    sa.Column("drawn_at", UtcDateTime, nullable=True),
    sa.Column("entrants", sa.Integer, nullable=False),  # counted at the draw
    sa.Column("redraws", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_draws_tenant", "tenant_id", "created_at"),
)

# One entry per member and draw: the primary key makes it hold under any concurrency.
draw_entries = sa.Table(
    "draw_entries",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("draw_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("entered_at", UtcDateTime, nullable=False),
)

# A member wins at most once per draw (round 0: the draw; 1, 2...: redraws).
draw_wins = sa.Table(
    "draw_wins",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("draw_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("win_id", sa.String(36), nullable=False, unique=True),
    sa.Column("prize", sa.Integer, nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the order drawn in its round
    sa.Column("won_at", UtcDateTime, nullable=False),
    sa.Column("claim_by", UtcDateTime, nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.Column("given_back_at", UtcDateTime, nullable=True),  # lapsed, redrawn
)

# --- drops (红包) -------------------------------------------------------------------------

# ``shares`` are decided at creation; ``claimed`` counts the shares handed out and only
# moves by a conditional update (``claimed < slots``), so no more than N are ever claimed.
drops = sa.Table(
    "drops",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("group_id", sa.String(200), nullable=True),
    sa.Column("sender_id", sa.String(200), nullable=False),
    sa.Column("total_points", sa.Integer, nullable=False),
    sa.Column("slots", sa.Integer, nullable=False),
    sa.Column("split", sa.String(16), nullable=False),
    sa.Column("min_points", sa.Integer, nullable=False),
    sa.Column("seed", sa.String(64), nullable=False),
    sa.Column("shares", sa.JSON, nullable=False),
    sa.Column("claimed", sa.Integer, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("expired_at", UtcDateTime, nullable=True),
    sa.Column("returned_points", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("claimed >= 0 AND claimed <= slots", name="ck_drops_claimed"),
    sa.Index("ix_drops_tenant", "tenant_id", "created_at"),
)

# One claim per member (the primary key) and one per share (the unique slot).
drop_claims = sa.Table(
    "drop_claims",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("drop_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("claim_id", sa.String(36), nullable=False, unique=True),
    sa.Column("slot", sa.Integer, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "drop_id", "slot", name="uq_drop_claims_slot"),
)
