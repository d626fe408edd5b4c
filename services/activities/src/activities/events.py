"""The activities service's events (contracts/topics/activities.campaigns.yaml), keyed by
the member each is about so a member's events stay in order for rewards' earning rules."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from servicekit.events import Event, new_event

SOURCE = "/activities"
CAMPAIGNS = "activities.campaigns"
TOPICS = (CAMPAIGNS,)

CHECKIN_RECORDED = "quanzi.activities.checkin.recorded.v1"
MILESTONE_REACHED = "quanzi.activities.challenge.milestone_reached.v1"
CHALLENGE_COMPLETED = "quanzi.activities.challenge.completed.v1"


def _event(
    event_type: str,
    tenant_id: str,
    member_id: str,
    subject: str,
    data: dict[str, Any],
    at: datetime,
) -> Event:
    """``at`` is the event's time: when the member did it (rewards counts its day)."""
    event = new_event(
        type=event_type,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=CAMPAIGNS,
        data={"tenant_id": tenant_id, **data},
        key=member_id,
        subject=subject,
    )
    return replace(event, time=at)


def checkin_recorded(
    challenge: Any,
    checkin_id: str,
    member_id: str,
    day: date,
    *,
    make_up: bool,
    streak: int,
    total: int,
    at: datetime,
) -> Event:
    data = {
        "checkin_id": checkin_id,
        "challenge_id": challenge.id,
        "community_id": challenge.community_id,
        "group_id": challenge.group_id,
        "member_id": member_id,
        "day": day.isoformat(),
        "make_up": make_up,
        "streak": streak,
        "total_days": total,
        "checked_at": at.isoformat(),
    }
    return _event(CHECKIN_RECORDED, challenge.tenant_id, member_id, challenge.id, data, at)


def milestone_reached(challenge: Any, member_id: str, milestone: int, at: datetime) -> Event:
    data = {
        "challenge_id": challenge.id,
        "community_id": challenge.community_id,
        "member_id": member_id,
        "milestone_days": milestone,
        "reached_at": at.isoformat(),
    }
    return _event(MILESTONE_REACHED, challenge.tenant_id, member_id, challenge.id, data, at)


def challenge_completed(
    challenge: Any, member_id: str, days_checked: int, total_days: int, at: datetime
) -> Event:
    data = {
        "challenge_id": challenge.id,
        "community_id": challenge.community_id,
        "member_id": member_id,
        "days_checked": days_checked,
        "required_days": challenge.required_days,
        "total_days": total_days,
        "completed_at": at.isoformat(),
    }
    return _event(CHALLENGE_COMPLETED, challenge.tenant_id, member_id, challenge.id, data, at)


QUIZ_COMPLETED = "quanzi.activities.quiz.completed.v1"


def quiz_completed(quiz: Any, attempt_id: str, member_id: str, result: Any, at: datetime) -> Event:
    data = {
        "quiz_id": quiz.id,
        "attempt_id": attempt_id,
        "community_id": quiz.community_id,
        "member_id": member_id,
        "score": result.percent,
        "correct_answers": result.correct,
        "total_questions": result.total,
        "passed": result.passed,
        "completed_at": at.isoformat(),
    }
    return _event(QUIZ_COMPLETED, quiz.tenant_id, member_id, quiz.id, data, at)


POLL_CLOSED = "quanzi.activities.poll.closed.v1"


def poll_closed(
    poll: Any, counts: list[int], voters: int, at: datetime, average: float | None = None
) -> Event:
    """Keyed by the poll's community (no member is its subject)."""
    data = {
        "poll_id": poll.id,
        "community_id": poll.community_id,
        "question": poll.question,
        "options": [
            {"option": option, "votes": count}
            for option, count in zip(poll.options, counts, strict=True)
        ],
        "voters": voters,
        "kind": poll.kind,
        "average": average,
        "anonymous": poll.anonymous,
        "closed_at": at.isoformat(),
    }
    return _event(POLL_CLOSED, poll.tenant_id, poll.community_id, poll.id, data, at)


DRAW_DRAWN = "quanzi.activities.draw.drawn.v1"
DRAW_WON = "quanzi.activities.draw.won.v1"


def draw_drawn(
    draw: Any,
    round_: int,
    seed: str,
    entrants: list[str],
    winners: list[tuple[str, int]],
    at: datetime,
    given_back: list[int] | None = None,
) -> Event:
    """Keyed by the draw's community; reveals the seed (a redraw's derived one) and, for
    a redraw, the prizes given back (what it drew from)."""
    digest = hashlib.sha256("\n".join(entrants).encode()).hexdigest()
    data = {
        "draw_id": draw.id,
        "community_id": draw.community_id,
        "round": round_,
        "seed": seed,
        "seed_hash": draw.seed_hash,
        "entrants": len(entrants),
        "entrants_sha256": digest,
        "prizes": draw.prizes,
        "winners": [{"member_id": member, "prize": prize} for member, prize in winners],
        "given_back": sorted(given_back or []),
        "drawn_at": at.isoformat(),
    }
    return _event(DRAW_DRAWN, draw.tenant_id, draw.community_id, draw.id, data, at)


def draw_won(draw: Any, win: dict[str, Any], at: datetime) -> Event:
    prize = draw.prizes[win["prize"]]
    data = {
        "draw_id": draw.id,
        "win_id": win["win_id"],
        "community_id": draw.community_id,
        "member_id": win["member_id"],
        "round": win["round"],
        "prize_name": prize["name"],
        "prize_kind": prize["kind"],
        "points": prize.get("points"),
        "item_id": prize.get("item_id"),
        "claim_by": win["claim_by"].isoformat(),
        "won_at": at.isoformat(),
    }
    return _event(DRAW_WON, draw.tenant_id, win["member_id"], draw.id, data, at)


DROP_CREATED = "quanzi.activities.drop.created.v1"
DROP_CLAIMED = "quanzi.activities.drop.claimed.v1"
DROP_EXPIRED = "quanzi.activities.drop.expired.v1"


def drop_created(drop: Any) -> Event:
    """Rewards reserves the drop's total from the operator's budget. Keyed by the drop's
    community."""
    data = {
        "drop_id": drop.id,
        "community_id": drop.community_id,
        "group_id": drop.group_id,
        "sender_id": drop.sender_id,
        "total_points": drop.total_points,
        "slots": drop.slots,
        "split": drop.split,
        "min_points": drop.min_points,
        "expires_at": drop.expires_at.isoformat(),
        "created_at": drop.created_at.isoformat(),
    }
    return _event(DROP_CREATED, drop.tenant_id, drop.community_id, drop.id, data, drop.created_at)


def drop_claimed(drop: Any, claim: dict[str, Any]) -> Event:
    at = claim["claimed_at"]
    data = {
        "drop_id": drop.id,
        "claim_id": claim["claim_id"],
        "community_id": drop.community_id,
        "group_id": drop.group_id,
        "member_id": claim["member_id"],
        "sender_id": drop.sender_id,
        "points": claim["points"],
        "drop_total": drop.total_points,
        "slot": claim["slot"],
        "claimed_at": at.isoformat(),
    }
    return _event(DROP_CLAIMED, drop.tenant_id, claim["member_id"], drop.id, data, at)


def drop_expired(drop: Any, claims: int, claimed_points: int, returned: int, at: datetime) -> Event:
    """Keyed by the drop's community."""
    data = {
        "drop_id": drop.id,
        "community_id": drop.community_id,
        "sender_id": drop.sender_id,
        "total_points": drop.total_points,
        "claimed_points": claimed_points,
        "claims": claims,
        "returned_points": returned,
        "expired_at": at.isoformat(),
    }
    return _event(DROP_EXPIRED, drop.tenant_id, drop.community_id, drop.id, data, at)


MEETUP_REGISTERED = "quanzi.activities.meetup.registered.v1"
MEETUP_CONFIRMED = "quanzi.activities.meetup.confirmed.v1"
MEETUP_PROMOTED = "quanzi.activities.meetup.promoted.v1"
MEETUP_CANCELLED = "quanzi.activities.meetup.cancelled.v1"
MEETUP_ATTENDED = "quanzi.activities.meetup.attended.v1"


def _meetup(meetup: Any, registration: Any) -> dict[str, Any]:
    return {
        "meetup_id": meetup.id,
        "community_id": meetup.community_id,
        "registration_id": registration.id,
        "member_id": registration.member_id,
    }


def meetup_registered(meetup: Any, registration: Any, status: str, at: datetime) -> Event:
    """Every registration, with the status it starts in (confirmed, waitlisted, applied)."""
    data = {**_meetup(meetup, registration), "status": status, "registered_at": at.isoformat()}
    return _event(MEETUP_REGISTERED, meetup.tenant_id, registration.member_id, meetup.id, data, at)


def meetup_confirmed(meetup: Any, registration: Any, cost_points: int, at: datetime) -> Event:
    """A seat confirmed (first come, the draw, a review, an offer accepted); ``cost_points``
    is what the member pays for it (rewards debits it; 0: free)."""
    data = {
        **_meetup(meetup, registration),
        "cost_points": cost_points,
        "confirmed_at": at.isoformat(),
    }
    return _event(MEETUP_CONFIRMED, meetup.tenant_id, registration.member_id, meetup.id, data, at)


def meetup_promoted(meetup: Any, registration: Any, confirm_by: datetime, at: datetime) -> Event:
    """A seat offered to the head of the waitlist, to confirm by ``confirm_by``."""
    data = {
        **_meetup(meetup, registration),
        "confirm_by": confirm_by.isoformat(),
        "promoted_at": at.isoformat(),
    }
    return _event(MEETUP_PROMOTED, meetup.tenant_id, registration.member_id, meetup.id, data, at)


def meetup_cancelled(
    meetup: Any, registration: Any, from_status: str, reason: str, refund: int, at: datetime
) -> Event:
    """A registration ended before the meetup: the member cancelled, an offer lapsed or
    the review rejected it; ``refund_points`` is what rewards gives back (0: none paid)."""
    data = {
        **_meetup(meetup, registration),
        "from_status": from_status,
        "reason": reason,
        "refund_points": refund,
        "cancelled_at": at.isoformat(),
    }
    return _event(MEETUP_CANCELLED, meetup.tenant_id, registration.member_id, meetup.id, data, at)


def meetup_attended(meetup: Any, registration: Any, at: datetime) -> Event:
    data = {
        **_meetup(meetup, registration),
        "city": meetup.city,
        "attended_at": at.isoformat(),
    }
    return _event(MEETUP_ATTENDED, meetup.tenant_id, registration.member_id, meetup.id, data, at)


REFERRAL_CONVERTED = "quanzi.activities.referral.converted.v1"
REFERRAL_TIER_REACHED = "quanzi.activities.referral.tier_reached.v1"
REFERRAL_REVOKED = "quanzi.activities.referral.revoked.v1"


def referral_converted(campaign: Any, join: Any, counted: int, at: datetime) -> Event:
    """An invited join counts for its inviter in the campaign (once per join)."""
    data = {
        "campaign_id": campaign.id,
        "community_id": campaign.community_id,
        "member_id": join.inviter_id,
        "invitee_id": join.member_id,
        "membership_id": join.membership_id,
        "channel": join.channel,
        "counted": counted,
        "converted_at": at.isoformat(),
    }
    return _event(REFERRAL_CONVERTED, campaign.tenant_id, join.inviter_id, campaign.id, data, at)


def referral_tier(
    kind: str,
    campaign: Any,
    member_id: str,
    tier_index: int,
    grant: int,
    counted: int,
    at: datetime,
) -> Event:
    """``kind``: REFERRAL_TIER_REACHED (rewards pays ``points``/``badge``) or
    REFERRAL_REVOKED (rewards reverses them). ``grant`` numbers the member's grants and
    revocations in the campaign, so a tier granted again is a new grant."""
    tier = campaign.tiers[tier_index]
    data = {
        "campaign_id": campaign.id,
        "community_id": campaign.community_id,
        "member_id": member_id,
        "tier": tier_index,
        "invites": tier["invites"],
        "points": tier["points"],
        "badge": tier["badge"],
        "grant": grant,
        # The member's tier in the campaign: rewards reverses what a tier_reached with
        # this key credited when a revoked with the same key comes.
        "tier_key": f"{campaign.id}/{member_id}/{tier_index}",
        "counted": counted,
        ("reached_at" if kind == REFERRAL_TIER_REACHED else "revoked_at"): at.isoformat(),
    }
    return _event(kind, campaign.tenant_id, member_id, campaign.id, data, at)


CONTEST_FINISHED = "quanzi.activities.contest.finished.v1"
CONTEST_AWARDED = "quanzi.activities.contest.awarded.v1"


def _contest(contest: Any) -> dict[str, Any]:
    return {
        "contest_id": contest.id,
        "community_id": contest.community_id,
        "scope": contest.scope,
        "metric": contest.metric,
    }


def contest_finished(contest: Any, ranked: int, awards: list[Any], at: datetime) -> Event:
    """Once per contest, keyed by its community (the tenant for a tenant-wide one)."""
    data = {
        **_contest(contest),
        "title": contest.title,
        "start_date": contest.start_date.isoformat(),
        "end_date": contest.end_date.isoformat(),
        "ranked": ranked,
        "winners": [
            {
                "place": a["place"],
                "member_id": a["member_id"],
                "score": a["score"],
                "points": a["points"],
                "badge": a["badge"],
                "title": a["title"],
            }
            for a in awards
        ],
        "finished_at": at.isoformat(),
    }
    key = contest.community_id or contest.tenant_id
    return _event(CONTEST_FINISHED, contest.tenant_id, key, contest.id, data, at)


def contest_awarded(contest: Any, award: dict[str, Any], at: datetime) -> Event:
    """One per awarded place: rewards credits ``points`` (0: none) and counts badges."""
    data = {
        **_contest(contest),
        "award_id": award["award_id"],
        "member_id": award["member_id"],
        "place": award["place"],
        "score": award["score"],
        "points": award["points"],
        "badge": award["badge"],
        "title": award["title"],
        "awarded_at": at.isoformat(),
    }
    return _event(CONTEST_AWARDED, contest.tenant_id, award["member_id"], contest.id, data, at)


TALK_SCHEDULED = "quanzi.activities.talk.scheduled.v1"
TALK_REMINDER_DUE = "quanzi.activities.talk.reminder_due.v1"
TALK_ATTENDED = "quanzi.activities.talk.attended.v1"


def _talk_data(talk: Any) -> dict[str, Any]:
    return {
        "talk_id": talk.id,
        "community_id": talk.community_id,
        "title": talk.title,
        "guests": list(talk.guests),
        "starts_at": talk.starts_at.isoformat(),
        "ends_at": talk.ends_at.isoformat(),
    }


def talk_scheduled(talk: Any, previous_starts_at: datetime | None, at: datetime) -> Event:
    """Set up, or moved (``previous_starts_at``). Keyed by the talk's community."""
    data = {
        **_talk_data(talk),
        "previous_starts_at": previous_starts_at.isoformat() if previous_starts_at else None,
        "scheduled_at": at.isoformat(),
    }
    return _event(TALK_SCHEDULED, talk.tenant_id, talk.community_id, talk.id, data, at)


def talk_reminder_due(talk: Any, lead: str, at: datetime) -> Event:
    """For whoever sends messages to the talk's audience. Keyed by the talk's community."""
    data = {**_talk_data(talk), "lead": lead, "due_at": at.isoformat()}
    return _event(TALK_REMINDER_DUE, talk.tenant_id, talk.community_id, talk.id, data, at)


def talk_attended(talk: Any, member_id: str, minutes: int, at: datetime) -> Event:
    data = {
        "talk_id": talk.id,
        "community_id": talk.community_id,
        "member_id": member_id,
        "minutes": minutes,
        "attended_at": at.isoformat(),
    }
    return _event(TALK_ATTENDED, talk.tenant_id, member_id, talk.id, data, at)
