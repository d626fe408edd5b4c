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

# --- meetups (线下活动) --------------------------------------------------------------------

# ``held``: seats held (confirmed, offered, attended, no-show), changed only by
# conditional updates of this row, which also serialize a meetup's seat changes; the
# CHECK makes more than the capacity impossible. ``seq`` numbers the registrations.
meetups = sa.Table(
    "meetups",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("city", sa.String(100), nullable=False),
    sa.Column("venue", sa.String(500), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("cost_points", sa.Integer, nullable=False),
    sa.Column("selection", sa.String(16), nullable=False),
    sa.Column("questions", sa.JSON, nullable=False),
    sa.Column("opens_at", UtcDateTime, nullable=False),
    sa.Column("closes_at", UtcDateTime, nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("confirm_hours", sa.Integer, nullable=False),
    sa.Column("held", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("last_seat", sa.Integer, nullable=False),  # the seq of the last seat taken
    sa.Column("seed", sa.String(64), nullable=False),  # lottery: secret until the draw
    sa.Column("seed_hash", sa.String(64), nullable=False),
    sa.Column("drawn_at", UtcDateTime, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("held >= 0 AND held <= capacity", name="ck_meetups_held"),
    sa.Index("ix_meetups_tenant", "tenant_id", "created_at"),
)

# One registration per member and meetup (the unique key); ``number`` is its seq in the
# meetup (the check-in code names it); ``queue_pos`` orders the waitlist.
meetup_registrations = sa.Table(
    "meetup_registrations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("meetup_id", sa.String(36), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("queue_pos", sa.Integer, nullable=True),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("confirm_by", UtcDateTime, nullable=True),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Column("paid_points", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "meetup_id", "member_id", name="uq_meetup_reg_member"),
    sa.UniqueConstraint("tenant_id", "meetup_id", "number", name="uq_meetup_reg_number"),
    sa.Index("ix_meetup_reg_status", "tenant_id", "meetup_id", "status", "queue_pos"),
)

# --- referral campaigns (裂变 / 任务宝) -------------------------------------------------------

# Invited joins from onboarding's membership events, one row per membership: who invited
# whom, through which channel, paid or not, its refund window, and a refund if any.
referral_joins = sa.Table(
    "referral_joins",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("membership_id", sa.String(200), primary_key=True),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("inviter_id", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(200), nullable=True),
    sa.Column("activated_at", UtcDateTime, nullable=False),
    sa.Column("paid", sa.Boolean, nullable=False),
    sa.Column("window_ends_at", UtcDateTime, nullable=True),
    sa.Column("refunded_at", UtcDateTime, nullable=True),
    sa.Index("ix_referral_joins_inviter", "tenant_id", "community_id", "inviter_id"),
    sa.Index("ix_referral_joins_member", "tenant_id", "community_id", "member_id"),
)

referral_campaigns = sa.Table(
    "referral_campaigns",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("counting", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(200), nullable=True),
    sa.Column("daily_cap", sa.Integer, nullable=False),
    sa.Column("tiers", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_referral_campaigns_community", "tenant_id", "community_id"),
)

# An inviter's standing in a campaign: what counts now, the joins announced as converted,
# the tiers granted (``grants`` numbers every grant and revocation), flags for an operator.
referral_progress = sa.Table(
    "referral_progress",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("counted", sa.Integer, nullable=False),
    sa.Column("pending", sa.Integer, nullable=False),
    sa.Column("last_counted_at", UtcDateTime, nullable=True),
    sa.Column("converted", sa.JSON, nullable=False),
    sa.Column("granted", sa.JSON, nullable=False),
    sa.Column("grants", sa.Integer, nullable=False),
    sa.Column("flags", sa.JSON, nullable=False),
    sa.Column("cleared_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_referral_progress_board", "tenant_id", "campaign_id", "counted"),
)

# --- live talks: the question queue -------------------------------------------------------

talks = sa.Table(
    "talks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("guests", sa.JSON, nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_talks_tenant", "tenant_id", "created_at"),
)

# ``votes`` is kept beside the votes' rows (one per member: the primary key), raised in
# the statement after a vote lands, so the queue is read without counting.
talk_questions = sa.Table(
    "talk_questions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("talk_id", sa.String(36), nullable=False),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("votes", sa.Integer, nullable=False),
    sa.Column("asked_at", UtcDateTime, nullable=False),
    sa.Column("marked_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("votes >= 0", name="ck_talk_questions_votes"),
    sa.Index("ix_talk_questions_queue", "tenant_id", "talk_id", "status", "votes"),
)

talk_votes = sa.Table(
    "talk_votes",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("question_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("voted_at", UtcDateTime, nullable=False),
)

# --- contests: members ranked by an activity metric, the top N awarded once ---------------

# ``starts_at``/``ends_at`` are the period's local midnights in ``timezone`` (fixed at
# creation); ``finished_at`` is set once, by the settlement that writes the awards.
contests = sa.Table(
    "contests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("community_id", sa.String(200), nullable=True),  # None: tenant-wide
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("awards", sa.JSON, nullable=False),
    sa.Column("ranked", sa.Integer, nullable=True),  # members ranked at the settlement
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("cancelled_at", UtcDateTime, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_contests_tenant", "tenant_id", "created_at"),
)

# One row per awarded place: the primary key keeps a place from being awarded twice.
contest_awards = sa.Table(
    "contest_awards",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("contest_id", sa.String(36), primary_key=True),
    sa.Column("place", sa.Integer, primary_key=True),
    sa.Column("award_id", sa.String(36), nullable=False, unique=True),
    sa.Column("member_id", sa.String(200), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("reached_at", UtcDateTime, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("badge", sa.String(200), nullable=True),
    sa.Column("title", sa.String(200), nullable=True),
    sa.Column("awarded_at", UtcDateTime, nullable=False),
)

# One row per member and talk: the minutes max-merged over the front end's reports.
talk_attendance = sa.Table(
    "talk_attendance",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("talk_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("joined_at", UtcDateTime, nullable=False),  # the first report
    sa.Column("reported_at", UtcDateTime, nullable=False),  # the last one
    sa.CheckConstraint("minutes >= 0", name="ck_talk_attendance_minutes"),
)
