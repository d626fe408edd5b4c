"""Use cases of posts: write (members through their seat, operators through their role),
edit with history, delete softly, append live updates, and read what one may see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from content import events
from content.access import EDITORS, READERS, is_member, is_operator
from content.audience.domain import (
    Audience,
    Seat,
    Silenced,
    Viewer,
    best_speaking_seat,
    may_see,
    qualifying_seats,
)
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.knowledge.repository import KnowledgeRepository
from content.moderation import service as moderation
from content.moderation.domain import Item
from content.posts.domain import (
    Invalid,
    Link,
    Media,
    MediaType,
    PostKind,
    check_post,
    check_update,
)
from content.posts.repository import PostRepository, Row
from content.review import domain as review
from content.top import domain as top
from servicekit.auth import Principal
from servicekit.outbox import add_event, add_events
from servicekit.problems import Problem, not_found


@dataclass(frozen=True)
class Draft:
    kind: PostKind
    title: str | None
    body: str
    media: tuple[Media, ...]
    link: Link | None
    audience: Audience
    tags: tuple[str, ...]
    pinned: bool


@dataclass(frozen=True)
class Patch:
    """Only the fields given change."""

    title: str | None = None
    body: str | None = None
    media: tuple[Media, ...] | None = None
    link: Link | None = None
    tags: tuple[str, ...] | None = None
    pinned: bool | None = None


def invalid(error: Invalid) -> Problem:
    return Problem(422, error.slug, "Invalid content", error.detail)


def silenced(reason: Silenced, where: str) -> Problem:
    details = {
        Silenced.NOT_A_MEMBER: f"you are not an active member of {where}",
        Silenced.MUTED: f"you are muted in {where} until the mute ends",
        Silenced.BANNED: f"you are banned from {where}",
    }
    return Problem(403, reason.value, "You may not post here", details[reason])


def media_json(media: Sequence[Media]) -> list[dict[str, Any]]:
    return [
        {
            "url": item.url,
            "type": item.type.value,
            "mime_type": item.mime_type,
            "size_bytes": item.size_bytes,
            "duration_s": item.duration_s,
            "name": item.name,
        }
        for item in media
    ]


def link_json(link: Link | None) -> dict[str, Any] | None:
    return None if link is None else {"url": link.url, "title": link.title}


def media_of(data: Sequence[dict[str, Any]]) -> tuple[Media, ...]:
    return tuple(
        Media(
            url=item["url"],
            type=MediaType(item["type"]),
            mime_type=item["mime_type"],
            size_bytes=item["size_bytes"],
            duration_s=item.get("duration_s"),
            name=item.get("name"),
        )
        for item in data
    )


def audience_of(post: Row) -> Audience:
    return Audience.from_json(post.audience)


async def speaking_seat(
    session: AsyncSession, principal: Principal, audience: Audience, now: datetime, where: str
) -> tuple[Viewer, Seat]:
    """The member's seat that lets them speak to ``audience``, or the 403 saying why not."""
    viewer = await AudienceRepository(session).viewer(principal.tenant_id, principal.subject)
    seats = qualifying_seats(audience, viewer)
    if not seats:  # no seat for it: say why from the seats in its communities (banned, …)
        seats = [
            s
            for s in viewer.seats
            if audience.tenant_wide or s.community_id in audience.community_ids
        ]
    seat, reason = best_speaking_seat(seats, now)
    if seat is None:
        raise silenced(reason, where)
    return viewer, seat


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Row:
    """Write a post. A member's post is screened by auto-moderation (``moderation.Refused``
    when a rule blocks it: the caller's ``moderation.screened`` transaction keeps nothing)."""
    try:
        check_post(draft.kind, draft.body, draft.media, draft.link)
    except Invalid as error:
        raise invalid(error) from error
    await require_communities(session, principal.tenant_id, draft.audience.community_ids)
    by_member = is_member(principal)
    state = review.ReviewState.APPROVED
    flag: moderation.Flag | None = None
    target: moderation.Target | None = None
    if by_member:
        community_id, state = await _member_review_state(session, principal, draft, now)
        target = moderation.Target("post", principal.tenant_id, principal.subject, community_id)
        flag = await moderation.screen(session, target, screened_item(draft), now)
        if flag is not None:  # held by a rule, whatever the author's level
            state = review.ReviewState.PENDING
    values = _new_post(principal, draft, state, now)
    values["moderation"] = flag.json() if flag else None
    repo = PostRepository(session)
    await repo.add(values, sorted(draft.audience.communities()))
    await repo.add_revision(_revision(values, principal.subject, now))
    post = await repo.post(principal.tenant_id, str(values["id"]))
    assert post is not None
    await KnowledgeRepository(session).reindex(post)
    if state is review.ReviewState.PENDING:
        held = [events.post_held(post, now, resubmitted=False)]
        if flag is not None and target is not None:
            held.append(flag.event(target, post.id, now))
        await add_events(session, held)
    elif by_member:  # passed review on the author's level: earns as an approval does
        await add_events(
            session, [events.post_approved(post, None, now), events.post_published(post, now)]
        )
    else:
        await add_events(session, [events.post_published(post, now)])
    return post


def screened_item(draft: Draft | Patch, before: Row | None = None) -> Item:
    """What auto-moderation reads of a post: its text (title, body, tags, link title, file
    names) and its link. Media URLs are the app's storage, not links a reader follows.
    For an edit, the fields the patch leaves come from the post ``before``."""

    def pick(new: Any, old: Any) -> Any:
        return new if new is not None or before is None else old

    title = pick(draft.title, before.title if before else None)
    body = pick(draft.body, before.body if before else "")
    tags = pick(draft.tags, tuple(before.tags) if before else ())
    link = pick(draft.link, _link_of(before.link) if before else None)
    media = pick(draft.media, media_of(before.media) if before else ())
    parts = [title or "", body or "", *(tags or ())]
    parts += [link.title or ""] if link else []
    parts += [m.name for m in media or () if m.name]
    return Item(tuple(parts), (link.url,) if link else ())


async def _member_review_state(
    session: AsyncSession, principal: Principal, draft: Draft, now: datetime
) -> tuple[str, review.ReviewState]:
    """403 unless the member may speak in the community; held unless their level skips it.
    Returns the community the member writes in, and the review state."""
    community_id = _member_audience(draft)
    viewer, seat = await speaking_seat(
        session, principal, draft.audience, now, f"community {community_id}"
    )
    auto = await PostRepository(session).auto_approve_level(principal.tenant_id, seat.community_id)
    state = review.initial_state(by_operator=False, level=viewer.level, auto_approve_level=auto)
    return seat.community_id, state


def _new_post(
    principal: Principal, draft: Draft, state: review.ReviewState, now: datetime
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": principal.tenant_id,
        "author_id": principal.subject,
        "author_kind": "member" if is_member(principal) else "operator",
        "kind": draft.kind.value,
        "title": draft.title,
        "body": draft.body,
        "media": media_json(draft.media),
        "link": link_json(draft.link),
        "audience": draft.audience.to_json(),
        "tags": list(draft.tags),
        "pinned": draft.pinned,
        "review_state": state.value,
        "review_reason": None,
        "reviewed_by": None,
        "reviewed_at": None,
        "version": 1,
        "deleted_at": None,
        "deleted_by": None,
        "delete_reason": None,
        "comment_count": 0,
        "like_count": 0,
        "share_count": 0,
        "bookmark_count": 0,
        "view_count": 0,
        "top_score": top.score(top.Engagement(), now),
        "created_at": now,
        "updated_at": now,
    }


def _member_audience(draft: Draft) -> str:
    """A member posts into one community they sit in, for everyone there."""
    audience = draft.audience
    narrowed = audience.group_kinds or audience.tiers or audience.roles or audience.min_level
    if audience.tenant_wide or len(audience.community_ids) != 1 or narrowed:
        raise Problem(
            422,
            "member-audience",
            "Invalid audience",
            "a member posts to exactly one community, with no other targeting",
        )
    if draft.pinned:
        raise Problem(403, "forbidden", "Forbidden", "only operators pin announcements")
    return next(iter(audience.community_ids))


def _revision(values: dict[str, Any], by: str, at: datetime) -> dict[str, Any]:
    names = ("title", "body", "media", "link", "tags")
    return {
        "post_id": values["id"],
        "version": values["version"],
        **{name: values[name] for name in names},
        "edited_by": by,
        "edited_at": at,
    }


async def editable(session: AsyncSession, principal: Principal, post_id: str) -> Row:
    """The post, locked, if the caller may change it: its member author, or an editor."""
    post = await PostRepository(session).post(principal.tenant_id, post_id, lock=True)
    if post is None or not (is_operator(principal, *EDITORS) or is_author(principal, post)):
        raise not_found("post")
    if post.deleted_at is not None:
        raise Problem(409, "post-deleted", "Post deleted", "a deleted post cannot change")
    return post


def is_author(principal: Principal, post: Row) -> bool:
    return (
        is_member(principal)
        and post.author_kind == "member"
        and (post.author_id == principal.subject)
    )


async def edit(
    session: AsyncSession, principal: Principal, post_id: str, patch: Patch, now: datetime
) -> Row:
    post = await editable(session, principal, post_id)
    if post.review_state == review.ReviewState.REJECTED:
        raise Problem(409, "post-rejected", "Post rejected", "a rejected post cannot be edited")
    if patch.pinned is not None and not is_operator(principal, *EDITORS):
        raise Problem(403, "forbidden", "Forbidden", "only operators pin announcements")
    media = patch.media if patch.media is not None else media_of(post.media)
    link = patch.link if patch.link is not None else _link_of(post.link)
    body = patch.body if patch.body is not None else post.body
    try:
        check_post(PostKind(post.kind), body, media, link)
    except Invalid as error:
        raise invalid(error) from error
    if patch.pinned and audience_of(post).tenant_wide:
        raise Problem(422, "pin-needs-community", "Invalid pin", "pin a post to communities")
    values: dict[str, Any] = {
        "title": patch.title if patch.title is not None else post.title,
        "body": body,
        "media": media_json(media),
        "link": link_json(link),
        "tags": list(patch.tags) if patch.tags is not None else post.tags,
        "pinned": patch.pinned if patch.pinned is not None else post.pinned,
        "version": post.version + 1,
        "updated_at": now,
    }
    repo = PostRepository(session)
    resubmitted, flagged = False, None
    if is_author(principal, post):
        resubmitted, flagged = await _review_again(session, principal, post, patch, values, now)
    await repo.update(post.id, values)
    await repo.add_revision(_revision({**values, "id": post.id}, principal.subject, now))
    after = await repo.post(principal.tenant_id, post.id)
    assert after is not None
    await KnowledgeRepository(session).reindex(after)
    if resubmitted:
        await add_event(session, events.post_held(after, now, resubmitted=True))
    if flagged is not None:
        await add_event(session, flagged.event(after.id, now))
    return after


@dataclass(frozen=True)
class _Flagged:
    flag: moderation.Flag
    target: moderation.Target

    def event(self, post_id: str, at: datetime) -> Any:
        return self.flag.event(self.target, post_id, at)


async def _review_again(
    session: AsyncSession,
    principal: Principal,
    post: Row,
    patch: Patch,
    values: dict[str, Any],
    now: datetime,
) -> tuple[bool, _Flagged | None]:
    """A member's edit is screened and reviewed like a new post: unless their level lets
    them skip review where they speak (and no rule holds it), an approved post goes back
    to the queue. Returns whether it went back, and the flag that held it."""
    audience = audience_of(post)
    viewer, seat = await speaking_seat(session, principal, audience, now, "this community")
    target = moderation.Target("post", principal.tenant_id, principal.subject, seat.community_id)
    flag = await moderation.screen(session, target, screened_item(patch, post), now)
    values["moderation"] = flag.json() if flag else post.moderation
    auto = await PostRepository(session).auto_approve_level(principal.tenant_id, seat.community_id)
    skips = not review.needs_review(by_operator=False, level=viewer.level, auto_approve_level=auto)
    if skips and flag is None:
        return False, None
    change = review.decide(review.ReviewState(post.review_state), review.Decision.RESUBMIT)
    values["review_state"] = change.after.value
    return change.retracted, _Flagged(flag, target) if flag else None


def _link_of(data: dict[str, Any] | None) -> Link | None:
    return None if data is None else Link(data["url"], data.get("title"))


async def delete(
    session: AsyncSession, principal: Principal, post_id: str, reason: str, now: datetime
) -> Row:
    post = await editable(session, principal, post_id)
    await PostRepository(session).update(
        post.id,
        {
            "deleted_at": now,
            "deleted_by": principal.subject,
            "delete_reason": reason,
            "pinned": False,
            "updated_at": now,
        },
    )
    await KnowledgeRepository(session).unindex(post.id)
    was_published = post.review_state == review.ReviewState.APPROVED
    await add_event(
        session,
        events.post_deleted(post, principal.subject, reason, now, was_published=was_published),
    )
    after = await PostRepository(session).post(principal.tenant_id, post.id)
    assert after is not None
    return after


async def append_update(
    session: AsyncSession,
    principal: Principal,
    post_id: str,
    body: str,
    media: tuple[Media, ...],
    now: datetime,
) -> Row:
    post = await editable(session, principal, post_id)
    if post.kind != PostKind.LIVE:
        raise Problem(409, "not-live", "Not a live post", "only live posts take updates")
    if post.review_state == review.ReviewState.REJECTED:
        raise Problem(409, "post-rejected", "Post rejected", "a rejected post takes no updates")
    try:
        check_update(body, media)
    except Invalid as error:
        raise invalid(error) from error
    repo = PostRepository(session)
    await repo.add_update(
        {
            "id": str(uuid.uuid4()),
            "post_id": post.id,
            "body": body,
            "media": media_json(media),
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    await repo.update(post.id, {"updated_at": now})
    after = await repo.post(principal.tenant_id, post.id)
    assert after is not None
    return after


# --- reading ---------------------------------------------------------------------------


async def readable(session: AsyncSession, principal: Principal, post_id: str) -> Row:
    """The post if the caller may read it: operators every live post of the tenant; a
    member their own live posts and the published posts their audience rules allow.
    Anything else is a 404, whether it exists or not."""
    post = await PostRepository(session).post(principal.tenant_id, post_id)
    if post is None or post.deleted_at is not None:
        raise not_found("post")
    if is_operator(principal, *READERS) or is_author(principal, post):
        return post
    if post.review_state == review.ReviewState.APPROVED:
        viewer = await AudienceRepository(session).viewer(principal.tenant_id, principal.subject)
        if may_see(audience_of(post), viewer):
            return post
    raise not_found("post")
