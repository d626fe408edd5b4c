"""The platform's events as sources of points (pure): their types, what their data means
for points tied to a membership (a trial, its payment, its refund), which events withdraw
earlier credits, and the rules a new tenant starts with (``default_rules``). The rule
model they are written in is ``rules.domain``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rewards.rules.domain import (
    Caps,
    Condition,
    EarningRule,
    Expiry,
    ExpiryKind,
    Op,
    as_timestamp,
    cause_key,
    lookup,
)

MEMBERSHIP_ACTIVATED = "quanzi.onboarding.membership.activated.v1"
MEMBERSHIP_REFUNDED = "quanzi.onboarding.membership.refunded.v1"
# The ends of a membership: with ``tier: trial`` each means the trial ended unpaid.
MEMBERSHIP_ENDED = tuple(
    f"quanzi.onboarding.membership.{what}.v1" for what in ("expired", "left", "removed", "banned")
)
MEMBERSHIP_CAUSE = "membership_id"  # the cause path of points tied to a membership
TIER_TRIAL = "trial"


def membership_of(rule: EarningRule, data: dict[str, Any]) -> str | None:
    """The membership an award is tied to (its rule's cause is the membership), if any."""
    if rule.cause != MEMBERSHIP_CAUSE:
        return None
    value = lookup(data, MEMBERSHIP_CAUSE)
    return str(value) if value is not None else None


def starts_trial(event_type: str, data: dict[str, Any]) -> bool:
    """An activation that starts a free trial (``trial_ends_at``; ``tier`` in events
    published before that field existed)."""
    if event_type != MEMBERSHIP_ACTIVATED:
        return False
    return lookup(data, "trial_ends_at") is not None or lookup(data, "tier") == TIER_TRIAL


def paid_trial_window(event_type: str, data: dict[str, Any]) -> datetime | None:
    """An activation by which a trial member paid: when that payment's refund window
    ends (the activation's own time when it has none). None for any other event."""
    if event_type != MEMBERSHIP_ACTIVATED or lookup(data, "previous_tier") != TIER_TRIAL:
        return None
    return as_timestamp(lookup(data, "refund_window_ends_at")) or as_timestamp(
        lookup(data, "activated_at")
    )


def forfeits(event_type: str, data: dict[str, Any]) -> bool:
    """Does the event lose the membership's points? A refund; an end while a trial (the
    trial ended unpaid). Ends of a paid membership keep its points."""
    if event_type == MEMBERSHIP_REFUNDED:
        return True
    return event_type in MEMBERSHIP_ENDED and lookup(data, "tier") == TIER_TRIAL


# Content's events (``content.posts``): what members earn for their posts and comments.
POST_APPROVED = "quanzi.content.post.approved.v1"
POST_REJECTED = "quanzi.content.post.rejected.v1"
POST_SHARED = "quanzi.content.post.shared.v1"
POST_RECOMMENDED = "quanzi.content.post.recommended.v1"
COMMENT_APPROVED = "quanzi.content.comment.approved.v1"
COMMENT_REJECTED = "quanzi.content.comment.rejected.v1"
CONTENT_CREDITS = (POST_APPROVED, COMMENT_APPROVED, POST_SHARED, POST_RECOMMENDED)
CONTENT_WITHDRAWALS = (POST_REJECTED, COMMENT_REJECTED)
BY_MEMBER = Condition("author_kind", Op.EQ, "member")  # operators' own content earns nothing


def withdrawn_cause(event_type: str, data: dict[str, Any]) -> str | None:
    """The cause whose points a rejection takes back: only content that had been approved
    (``previously_approved``) earned any. A post's cause covers what its approval and its
    recommendation paid the author; shares stay with their sharers (they shared a post
    that was published at the time)."""
    if data.get("previously_approved") is not True:
        return None
    path = {POST_REJECTED: "post_id", COMMENT_REJECTED: "comment_id"}.get(event_type)
    value = lookup(data, path) if path else None
    return cause_key(path, str(value)) if path and value is not None else None


YEAR = Expiry(ExpiryKind.AFTER_DAYS, 365)

CHECKIN_RECORDED = "quanzi.activities.checkin.recorded.v1"
CHALLENGE_COMPLETED = "quanzi.activities.challenge.completed.v1"
QUIZ_COMPLETED = "quanzi.activities.quiz.completed.v1"
DRAW_WON = "quanzi.activities.draw.won.v1"
CONTEST_AWARDED = "quanzi.activities.contest.awarded.v1"
REFERRAL_TIER_REACHED = "quanzi.activities.referral.tier_reached.v1"
REFERRAL_REVOKED = "quanzi.activities.referral.revoked.v1"
TALK_ATTENDED = "quanzi.activities.talk.attended.v1"
# activities' events on its topic that the earning rules read (contracts/topics/
# activities.campaigns.yaml). A point drop's claimed shares are not earnings: they are
# paid from the operator's budget (rewards.budgets).
ACTIVITY_EVENTS = (
    CHECKIN_RECORDED,
    CHALLENGE_COMPLETED,
    QUIZ_COMPLETED,
    DRAW_WON,
    CONTEST_AWARDED,
    REFERRAL_TIER_REACHED,
    TALK_ATTENDED,
)
# A referral tier's grant, as its points' cause: a revocation of the same grant key takes
# them back (the member's tier in the campaign; a tier granted again is credited again).
REFERRAL_CAUSE = "tier_key"


def revoked_cause(event_type: str, data: dict[str, Any]) -> str | None:
    """The cause whose points a referral.revoked takes back (None: not a revocation)."""
    if event_type != REFERRAL_REVOKED:
        return None
    value = lookup(data, REFERRAL_CAUSE)
    return cause_key(REFERRAL_CAUSE, str(value)) if value else None


def default_rules() -> list[EarningRule]:
    """What a new tenant starts with. Rules for events of producers not built yet
    (posts, shares) wait here, matched by type when they arrive."""
    return [
        EarningRule(
            rule_id="join-bonus",
            version=1,
            event_type=MEMBERSHIP_ACTIVATED,
            points=10,
            pending_until="refund_window_ends_at",
            cause="membership_id",
            once_per="membership_id",
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="referral",
            version=1,
            event_type=MEMBERSHIP_ACTIVATED,
            points=20,
            beneficiary="source.inviter_id",
            conditions=(Condition("source.inviter_id", Op.EXISTS),),
            caps=Caps(per_month=400),
            pending_until="refund_window_ends_at",
            cause="membership_id",
            once_per="membership_id",
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="daily-check-in",
            version=1,
            event_type=CHECKIN_RECORDED,
            points=2,
            caps=Caps(per_day=2),
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="completed-challenge",
            version=1,
            event_type=CHALLENGE_COMPLETED,
            points=20,
            caps=Caps(per_day=40),
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="approved-post",
            version=1,
            event_type=POST_APPROVED,
            points=10,
            beneficiary="author_id",
            conditions=(BY_MEMBER,),
            caps=Caps(per_day=30),
            cause="post_id",
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="approved-comment",
            version=1,
            event_type=COMMENT_APPROVED,
            points=10,
            beneficiary="author_id",
            conditions=(BY_MEMBER,),
            caps=Caps(per_day=30),
            cause="comment_id",
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="recommendation",
            version=1,
            event_type=POST_RECOMMENDED,
            points=10,
            beneficiary="author_id",
            conditions=(BY_MEMBER,),
            caps=Caps(per_day=30),
            cause="post_id",
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="correct-answers",
            version=1,
            event_type=QUIZ_COMPLETED,
            points=5,
            per_unit="correct_answers",
            conditions=(Condition("correct_answers", Op.GTE, 1),),
            caps=Caps(per_day=50),
            expiry=YEAR,
        ),
        EarningRule(
            rule_id="share",
            version=1,
            event_type=POST_SHARED,
            points=15,
            caps=Caps(per_day=45),
            expiry=YEAR,
        ),
        # A lucky draw's points prize: the prize's points, once per win (no cap: the
        # draw's operator set the prize, activities draws each win once).
        EarningRule(
            rule_id="draw-prize",
            version=1,
            event_type=DRAW_WON,
            points=1,
            per_unit="points",
            conditions=(Condition("prize_kind", Op.EQ, "points"),),
            expiry=YEAR,
        ),
        # A live talk attended (activities sends talk.attended once per member and talk):
        # a member who stayed at least 10 minutes, a few talks a day at most.
        EarningRule(
            rule_id="attended-talk",
            version=1,
            event_type=TALK_ATTENDED,
            points=5,
            conditions=(Condition("minutes", Op.GTE, 10),),
            caps=Caps(per_day=15),
            expiry=YEAR,
        ),
        # A contest's awarded place: the points its operator set for the place, once per
        # place (activities settles a contest once; ``award_id`` guards a replay too).
        EarningRule(
            rule_id="contest-award",
            version=1,
            event_type=CONTEST_AWARDED,
            points=1,
            per_unit="points",
            conditions=(Condition("points", Op.GTE, 1),),
            once_per="award_id",
            expiry=YEAR,
        ),
        # A referral campaign's goal tier (任务宝): its points, caused by the grant so that
        # the tier's revocation (an invitee refunded in the window) takes them back.
        EarningRule(
            rule_id="referral-tier",
            version=1,
            event_type=REFERRAL_TIER_REACHED,
            points=1,
            per_unit="points",
            conditions=(Condition("points", Op.GTE, 1), Condition(REFERRAL_CAUSE, Op.EXISTS)),
            cause=REFERRAL_CAUSE,
            expiry=YEAR,
        ),
    ]
