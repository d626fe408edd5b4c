"""The activities service's events (contracts/topics/activities.campaigns.yaml), keyed by
the member each is about so a member's events stay in order for rewards' earning rules."""

from __future__ import annotations

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


def poll_closed(poll: Any, counts: list[int], voters: int, at: datetime) -> Event:
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
        "anonymous": poll.anonymous,
        "closed_at": at.isoformat(),
    }
    return _event(POLL_CLOSED, poll.tenant_id, poll.community_id, poll.id, data, at)
