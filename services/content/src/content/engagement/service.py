"""Use cases of engagement: comments (one level of replies, reviewed like posts), likes
and bookmarks (idempotent per member), share links (one per member and post), operators'
recommendations (推荐, once per post)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from content import events
from content.access import is_member
from content.engagement.repository import EngagementRepository
from content.moderation import service as moderation
from content.moderation.domain import Item
from content.posts import service as posts
from content.posts.repository import PostRepository, Row
from content.review import domain as review
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found


async def _published(session: AsyncSession, principal: Principal, post_id: str) -> Row:
    post = await posts.readable(session, principal, post_id)
    if post.review_state != review.ReviewState.APPROVED:
        raise Problem(409, "post-not-published", "Post not published", "it is still in review")
    return post


async def comment(
    session: AsyncSession,
    principal: Principal,
    post_id: str,
    body: str,
    parent_id: str | None,
    now: datetime,
) -> Row:
    """Comment on a published post. A member's comment is screened by auto-moderation
    (``moderation.Refused`` when a rule blocks it, for the caller's ``screened``)."""
    if not body.strip():
        raise Problem(422, "body-required", "Invalid content", "a comment needs a body")
    post = await _published(session, principal, post_id)
    repo = EngagementRepository(session)
    if parent_id is not None:
        parent = await repo.comment(principal.tenant_id, parent_id)
        # a held or rejected comment is not there for anyone to reply to
        approved = parent is not None and parent.review_state == review.ReviewState.APPROVED
        if parent is None or parent.post_id != post.id or not approved:
            raise not_found("comment")
        if parent.parent_id is not None:
            raise Problem(422, "reply-depth", "Reply too deep", "replies go to a top-level comment")
    state, community_id = review.ReviewState.APPROVED, None
    flag: moderation.Flag | None = None
    target: moderation.Target | None = None
    if is_member(principal):
        viewer, seat = await posts.speaking_seat(
            session, principal, posts.audience_of(post), now, "this post's community"
        )
        community_id = seat.community_id
        auto = await PostRepository(session).auto_approve_level(principal.tenant_id, community_id)
        state = review.initial_state(by_operator=False, level=viewer.level, auto_approve_level=auto)
        target = moderation.Target(
            "comment", principal.tenant_id, principal.subject, community_id, post.id
        )
        flag = await moderation.screen(session, target, Item((body,)), now)
        if flag is not None:  # held by a rule, whatever the author's level
            state = review.ReviewState.PENDING
    values = {
        "id": str(uuid.uuid4()),
        "tenant_id": principal.tenant_id,
        "post_id": post.id,
        "parent_id": parent_id,
        "author_id": principal.subject,
        "author_kind": "member" if is_member(principal) else "operator",
        "community_id": community_id,
        "body": body,
        "review_state": state.value,
        "review_reason": None,
        "reviewed_by": None,
        "reviewed_at": None,
        "created_at": now,
        "moderation": flag.json() if flag else None,
    }
    await repo.add_comment(values)
    row = await repo.comment(principal.tenant_id, values["id"])
    assert row is not None
    if flag is not None and target is not None:
        await add_event(session, flag.event(target, row.id, now))
    if state is review.ReviewState.APPROVED:
        await repo.count_comment(post.id)
        await add_event(session, events.comment_approved(row, None, now))
    return row


async def set_mark(
    session: AsyncSession, principal: Principal, post_id: str, kind: str, on: bool, now: datetime
) -> Row:
    """Like or bookmark (on), or take it back; repeating either changes nothing."""
    post = await _published(session, principal, post_id)
    repo = EngagementRepository(session)
    if on:
        await repo.mark(principal.tenant_id, post.id, principal.subject, kind, now)
    else:
        await repo.unmark(post.id, principal.subject, kind)
    after = await PostRepository(session).post(principal.tenant_id, post.id)
    assert after is not None
    return after


async def share(
    session: AsyncSession, principal: Principal, post_id: str, now: datetime
) -> tuple[Row, bool]:
    """The member's share link for the post (made once; asking again returns it)."""
    post = await _published(session, principal, post_id)
    repo = EngagementRepository(session)
    values = {
        "token": "sh_" + secrets.token_urlsafe(16),
        "tenant_id": principal.tenant_id,
        "post_id": post.id,
        "sharer_id": principal.subject,
        "created_at": now,
    }
    created = await repo.share(values)
    if created:
        await add_event(session, events.post_shared(post, principal.subject, values["token"], now))
    found = await repo.share_of(post.id, principal.subject)
    assert found is not None
    return found, created


async def recommend(
    session: AsyncSession, principal: Principal, post_id: str, now: datetime
) -> tuple[Row, bool]:
    """An operator recommends a published post (推荐): once per post, so the author is
    credited once however often it is asked (the second answer is the first's row)."""
    post = await _published(session, principal, post_id)
    repo = EngagementRepository(session)
    values = {
        "post_id": post.id,
        "tenant_id": principal.tenant_id,
        "recommended_by": principal.subject,
        "created_at": now,
    }
    created = await repo.recommend(values)
    if created:
        await add_event(session, events.post_recommended(post, principal.subject, now))
    found = await repo.recommendation(post.id)
    assert found is not None
    return found, created
