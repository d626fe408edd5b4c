"""Every service's events read into facts (only the fields insights reads are modelled;
contracts/schemas has the rest). A malformed event raises: the consumer retries it, then
dead-letters it for a look."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from insights.figures.domain import (
    Engagement,
    EngagementKind,
    Fact,
    MemberFact,
    MemberKind,
    PointsEntry,
    Source,
)

MEMBERSHIP = "quanzi.onboarding.membership."
ACTIVATED = MEMBERSHIP + "activated.v1"
TRIAL = "trial"

Reader = Callable[[dict[str, Any]], list[Fact]]


def moment(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _member(data: dict[str, Any], kind: MemberKind, at: datetime, **extra: Any) -> MemberFact:
    return MemberFact(
        membership_id=str(data["membership_id"]),
        community_id=str(data["community_id"]),
        member_id=str(data["member_id"]),
        kind=kind,
        at=at,
        **extra,
    )


def is_paid(data: dict[str, Any]) -> bool:
    """An activation into a paid term: a term, and not a trial's."""
    trial = data.get("tier") == TRIAL or data.get("trial_ends_at") is not None
    return data.get("term_ends_at") is not None and not trial


def activated(data: dict[str, Any]) -> list[Fact]:
    """Every activation counts as activated; an arrival (no tier replaced) as joined,
    with its source; a paid term as paid."""
    at = moment(data["activated_at"])
    facts: list[Fact] = [_member(data, MemberKind.ACTIVATED, at)]
    if data.get("previous_tier") is None:
        raw = data.get("source") or {}
        source = Source(
            kind=str(raw.get("kind") or "unknown"),
            code=_text(raw.get("code")),
            channel=_text(raw.get("channel")),
        )
        facts.append(_member(data, MemberKind.JOINED, at, source=source))
    if is_paid(data):
        facts.append(_member(data, MemberKind.PAID, at))
    return facts


def _status(kind: MemberKind, at_field: str) -> Reader:
    return lambda data: [_member(data, kind, moment(data[at_field]))]


def _engagement(
    kind: EngagementKind, ref: str, member: str, at_field: str, *, many: bool = False
) -> Reader:
    """``many``: the event names its communities in ``community_ids`` (a post, a share),
    else in ``community_id``."""

    def read(data: dict[str, Any]) -> list[Fact]:
        if data.get("author_kind", "member") != "member":
            return []  # an operator's post is not a member's engagement
        if many:
            named = data.get("community_ids") or []
            single = data.get("community_id")
            communities = [str(c) for c in named] or ([str(single)] if single else [])
        else:
            communities = [str(data["community_id"])] if data.get("community_id") else []
        at = moment(data[at_field])
        return [
            Engagement(kind, str(data[ref]), community, str(data[member]), at)
            for community in sorted(set(communities))
        ]

    return read


def _points(data: dict[str, Any]) -> list[Fact]:
    """Earned: a credit's positive points; spent: a debit's (a redemption, an adjustment)."""
    value = int(data.get("points") or 0)
    community = data.get("community_id") or ""
    entry = PointsEntry(
        entry_key=str(data["entry_key"]),
        community_id=str(community),
        member_id=str(data["member_id"]),
        earned=max(value, 0),
        spent=max(-value, 0),
        at=moment(data["occurred_at"]),
    )
    return [entry]


READERS: dict[str, Reader] = {
    ACTIVATED: activated,
    MEMBERSHIP + "renewed.v1": _status(MemberKind.RENEWED, "renewed_at"),
    MEMBERSHIP + "reinstated.v1": _status(MemberKind.REINSTATED, "reinstated_at"),
    MEMBERSHIP + "refunded.v1": _status(MemberKind.REFUNDED, "refunded_at"),
    MEMBERSHIP + "left.v1": _status(MemberKind.LEFT, "left_at"),
    MEMBERSHIP + "removed.v1": _status(MemberKind.REMOVED, "removed_at"),
    MEMBERSHIP + "expired.v1": _status(MemberKind.EXPIRED, "expired_at"),
    MEMBERSHIP + "banned.v1": _status(MemberKind.BANNED, "banned_at"),
    "quanzi.content.post.published.v1": _engagement(
        EngagementKind.POST, "post_id", "author_id", "published_at", many=True
    ),
    "quanzi.content.comment.approved.v1": _engagement(
        EngagementKind.COMMENT, "comment_id", "author_id", "approved_at"
    ),
    "quanzi.content.post.shared.v1": _engagement(
        EngagementKind.SHARE, "token", "member_id", "shared_at", many=True
    ),
    "quanzi.activities.checkin.recorded.v1": _engagement(
        EngagementKind.CHECKIN, "checkin_id", "member_id", "checked_at"
    ),
    "quanzi.activities.quiz.completed.v1": _engagement(
        EngagementKind.QUIZ, "attempt_id", "member_id", "completed_at"
    ),
    "quanzi.rewards.points.credited.v1": _points,
    "quanzi.rewards.points.debited.v1": _points,
}
MEMBERSHIP_TYPES = tuple(t for t in READERS if t.startswith(MEMBERSHIP))
CONTENT_TYPES = tuple(t for t in READERS if t.startswith("quanzi.content."))
ACTIVITY_TYPES = tuple(t for t in READERS if t.startswith("quanzi.activities."))
POINTS_TYPES = tuple(t for t in READERS if t.startswith("quanzi.rewards."))


def facts_of(event_type: str, data: dict[str, Any]) -> list[Fact]:
    return READERS[event_type](data)
