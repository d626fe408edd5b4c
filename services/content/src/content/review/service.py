"""Use cases of review: editors (tenant operators with a content role) and community
moderators (members holding a community's owner, admin or operator role, with their
member token) approve or reject posts and comments, one by one or in bulk (each item on
its own: one item refused leaves the others decided)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from content import events
from content.access import is_member
from content.audience.repository import AudienceRepository
from content.posts.repository import PostRepository, Row
from content.review import domain
from content.review.domain import Decision, NotAllowed, ReviewState
from content.review.repository import ReviewRepository
from servicekit.auth import Principal
from servicekit.outbox import add_event, add_events
from servicekit.problems import Problem, not_found


class Target(StrEnum):
    POST = "post"
    COMMENT = "comment"


def _refused(error: NotAllowed) -> Problem:
    return Problem(
        409, "review-not-allowed", "Review not allowed", str(error), state=error.state.value
    )


def _reason_needed(decision: Decision, reason: str | None) -> str:
    if decision is Decision.REJECT and not (reason or "").strip():
        raise Problem(422, "reason-required", "Reason required", "a rejection needs a reason")
    return reason or ""


async def check_moderator(
    session: AsyncSession, principal: Principal, item: Row, community_id: str | None
) -> None:
    """Editors review everything of the tenant; a member only members' items written in a
    community where they hold a moderating role."""
    if not is_member(principal):
        return
    roles = await AudienceRepository(session).roles(principal.tenant_id, principal.subject)
    if item.author_kind != "member" or not domain.moderates(roles, community_id):
        raise Problem(
            403, "not-a-moderator", "Not a moderator", "you do not moderate this community"
        )


def _home(post: Row) -> str | None:
    """The community a member's post was written in (members post to exactly one)."""
    communities = post.audience.get("community_ids") or []
    return str(communities[0]) if len(communities) == 1 else None


async def decide_post(
    session: AsyncSession,
    principal: Principal,
    post_id: str,
    decision: Decision,
    reason: str | None,
    now: datetime,
) -> Row:
    reason = _reason_needed(decision, reason)
    repo = PostRepository(session)
    post = await repo.post(principal.tenant_id, post_id, lock=True)
    if post is None or post.deleted_at is not None:
        raise not_found("post")
    await check_moderator(session, principal, post, _home(post))
    try:
        change = domain.decide(ReviewState(post.review_state), decision)
    except NotAllowed as error:
        raise _refused(error) from error
    await repo.update(
        post.id,
        {
            "review_state": change.after.value,
            "review_reason": reason or None,
            "reviewed_by": principal.subject,
            "reviewed_at": now,
        },
    )
    after = await repo.post(principal.tenant_id, post.id)
    assert after is not None
    by = principal.subject
    if change.published:
        published = [events.post_approved(after, by, now), events.post_published(after, now)]
        await add_events(session, published)
    elif change.after is ReviewState.REJECTED:
        event = events.post_rejected(after, by, reason, now, was_approved=change.retracted)
        await add_event(session, event)
    return after


async def decide_comment(
    session: AsyncSession,
    principal: Principal,
    comment_id: str,
    decision: Decision,
    reason: str | None,
    now: datetime,
) -> Row:
    reason = _reason_needed(decision, reason)
    repo = ReviewRepository(session)
    comment = await repo.comment(principal.tenant_id, comment_id, lock=True)
    if comment is None:
        raise not_found("comment")
    await check_moderator(session, principal, comment, comment.community_id)
    try:
        change = domain.decide(ReviewState(comment.review_state), decision)
    except NotAllowed as error:
        raise _refused(error) from error
    await repo.set_comment(
        comment.id,
        {
            "review_state": change.after.value,
            "review_reason": reason or None,
            "reviewed_by": principal.subject,
            "reviewed_at": now,
        },
    )
    after = await repo.comment(principal.tenant_id, comment.id)
    assert after is not None
    if change.published:
        await repo.count_comment(comment.post_id, +1)
        await add_event(session, events.comment_approved(after, principal.subject, now))
    elif change.after is ReviewState.REJECTED:
        if change.retracted:
            await repo.count_comment(comment.post_id, -1)
        event = events.comment_rejected(
            after, principal.subject, reason, now, was_approved=change.retracted
        )
        await add_event(session, event)
    return after


@dataclass(frozen=True)
class Item:
    target: Target
    id: str
    decision: Decision
    reason: str | None


@dataclass(frozen=True)
class Outcome:
    item: Item
    state: str | None  # the review state after, when decided
    problem: Problem | None


async def decide_many(
    session: AsyncSession, principal: Principal, items: list[Item], now: datetime
) -> list[Outcome]:
    """Each item in its own savepoint: a refused item rolls back alone and is reported."""
    outcomes: list[Outcome] = []
    for item in items:
        try:
            async with session.begin_nested():
                if item.target is Target.POST:
                    row = await decide_post(
                        session, principal, item.id, item.decision, item.reason, now
                    )
                else:
                    row = await decide_comment(
                        session, principal, item.id, item.decision, item.reason, now
                    )
            outcomes.append(Outcome(item, row.review_state, None))
        except Problem as problem:
            outcomes.append(Outcome(item, None, problem))
    return outcomes
