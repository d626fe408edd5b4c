"""The content service's events (contracts/topics/content.posts.yaml), keyed by the member
each event is about, built from the post's row as it stands after the change."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from servicekit.events import Event, new_event

SOURCE = "/content"
POSTS = "content.posts"
SEQUENCES = "content.sequences"
MODERATION = "content.moderation"
TOPICS = (POSTS, SEQUENCES, MODERATION)

POST_PUBLISHED = "quanzi.content.post.published.v1"
POST_HELD = "quanzi.content.post.held.v1"
POST_APPROVED = "quanzi.content.post.approved.v1"
POST_REJECTED = "quanzi.content.post.rejected.v1"
POST_DELETED = "quanzi.content.post.deleted.v1"
POST_SHARED = "quanzi.content.post.shared.v1"
POST_RECOMMENDED = "quanzi.content.post.recommended.v1"
DIGEST_PUBLISHED = "quanzi.content.digest.published.v1"
POST_FEATURED = "quanzi.content.post.featured.v1"
POST_UNFEATURED = "quanzi.content.post.unfeatured.v1"
COMMENT_APPROVED = "quanzi.content.comment.approved.v1"
SEQUENCE_STEP_DELIVERED = "quanzi.content.sequence.step_delivered.v1"
COMMENT_REJECTED = "quanzi.content.comment.rejected.v1"
ITEM_FLAGGED = "quanzi.content.item.flagged.v1"


def _event(event_type: str, tenant_id: str, member_id: str, data: dict[str, Any]) -> Event:
    return new_event(
        type=event_type,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=POSTS,
        data={"tenant_id": tenant_id, **data},
        key=member_id,
        subject=str(data.get("post_id")),
    )


def _only_community(audience: dict[str, Any]) -> str | None:
    """The post's community when it has exactly one (a member's post always does): whose
    local days rewards' caps count in; None for tenant-wide or multi-community posts."""
    found = list(audience.get("community_ids") or [])
    return found[0] if len(found) == 1 and not audience.get("tenant_wide") else None


def _post_part(post: Any) -> dict[str, Any]:
    audience = post.audience
    return {
        "post_id": post.id,
        "author_id": post.author_id,
        "author_kind": post.author_kind,
        "community_ids": list(audience.get("community_ids") or []),
        "tenant_wide": bool(audience.get("tenant_wide")),
    }


def post_published(post: Any, at: datetime) -> Event:
    data = {
        **_post_part(post),
        "kind": post.kind,
        "pinned": bool(post.pinned),
        "tags": list(post.tags),
        "published_at": at.isoformat(),
    }
    return _event(POST_PUBLISHED, post.tenant_id, post.author_id, data)


def post_held(post: Any, at: datetime, *, resubmitted: bool) -> Event:
    data = {**_post_part(post), "held_at": at.isoformat(), "resubmitted": resubmitted}
    return _event(POST_HELD, post.tenant_id, post.author_id, data)


def post_approved(post: Any, by: str | None, at: datetime) -> Event:
    data = {**_post_part(post), "reviewed_by": by, "approved_at": at.isoformat()}
    return _event(POST_APPROVED, post.tenant_id, post.author_id, data)


def post_rejected(post: Any, by: str, reason: str, at: datetime, *, was_approved: bool) -> Event:
    data = {
        **_post_part(post),
        "reviewed_by": by,
        "reason": reason,
        "previously_approved": was_approved,
        "rejected_at": at.isoformat(),
    }
    return _event(POST_REJECTED, post.tenant_id, post.author_id, data)


def post_deleted(post: Any, by: str, reason: str, at: datetime, *, was_published: bool) -> Event:
    data = {
        **_post_part(post),
        "deleted_by": by,
        "reason": reason,
        "was_published": was_published,
        "deleted_at": at.isoformat(),
    }
    return _event(POST_DELETED, post.tenant_id, post.author_id, data)


def post_shared(post: Any, sharer_id: str, token: str, at: datetime) -> Event:
    part = _post_part(post)
    data = {
        "post_id": post.id,
        "member_id": sharer_id,
        "token": token,
        "community_ids": part["community_ids"],
        "tenant_wide": part["tenant_wide"],
        "community_id": _only_community(post.audience),
        "shared_at": at.isoformat(),
    }
    return _event(POST_SHARED, post.tenant_id, sharer_id, data)


def post_recommended(post: Any, by: str, at: datetime) -> Event:
    data = {
        **_post_part(post),
        "community_id": _only_community(post.audience),
        "recommended_by": by,
        "recommended_at": at.isoformat(),
    }
    return _event(POST_RECOMMENDED, post.tenant_id, post.author_id, data)


def post_featured(post: Any, by: str, note: str | None, at: datetime) -> Event:
    """精华: keyed by the author, whom rewards may credit for it."""
    data = {**_post_part(post), "featured_by": by, "note": note, "featured_at": at.isoformat()}
    return _event(POST_FEATURED, post.tenant_id, post.author_id, data)


def post_unfeatured(post: Any, by: str, at: datetime) -> Event:
    """精华 withdrawn: what the featuring earned may be reversed."""
    data = {**_post_part(post), "unfeatured_by": by, "unfeatured_at": at.isoformat()}
    return _event(POST_UNFEATURED, post.tenant_id, post.author_id, data)


def comment_approved(comment: Any, by: str | None, at: datetime) -> Event:
    data = {
        "post_id": comment.post_id,
        "comment_id": comment.id,
        "parent_id": comment.parent_id,
        "author_id": comment.author_id,
        "author_kind": comment.author_kind,
        "community_id": comment.community_id,
        "reviewed_by": by,
        "approved_at": at.isoformat(),
    }
    return _event(COMMENT_APPROVED, comment.tenant_id, comment.author_id, data)


def comment_rejected(
    comment: Any, by: str, reason: str, at: datetime, *, was_approved: bool
) -> Event:
    data = {
        "post_id": comment.post_id,
        "comment_id": comment.id,
        "author_id": comment.author_id,
        "community_id": comment.community_id,
        "reviewed_by": by,
        "reason": reason,
        "previously_approved": was_approved,
        "rejected_at": at.isoformat(),
    }
    return _event(COMMENT_REJECTED, comment.tenant_id, comment.author_id, data)


def digest_published(
    tenant_id: str, community_id: str, day: str, post_id: str, post_ids: list[str], at: datetime
) -> Event:
    """Keyed by the community: a digest is about no one member."""
    data = {
        "community_id": community_id,
        "day": day,
        "post_id": post_id,
        "post_ids": post_ids,
        "published_at": at.isoformat(),
    }
    event = _event(DIGEST_PUBLISHED, tenant_id, community_id, data)
    return replace(event, subject=community_id)


def sequence_step_delivered(run: Any, sequence: Any, index: int, step: Any, at: datetime) -> Event:
    """A newcomer sequence's step for one member: whoever sends messages delivers it."""
    data = {
        "tenant_id": run.tenant_id,
        "sequence_id": sequence.id,
        "sequence_name": sequence.name,
        "run_id": run.id,
        "step": index,
        "kind": step.kind.value,
        "title": step.title,
        "body": step.body,
        "member_id": run.member_id,
        "membership_id": run.membership_id,
        "community_id": run.community_id,
        "delivered_at": at.isoformat(),
    }
    return new_event(
        type=SEQUENCE_STEP_DELIVERED,
        source=SOURCE,
        tenant_id=run.tenant_id,
        topic=SEQUENCES,
        data=data,
        key=run.member_id,
        subject=f"{run.id}:{index}",
    )


def item_flagged(
    tenant_id: str,
    member_id: str,
    community_id: str,
    *,
    target_kind: str,
    target_id: str | None,
    post_id: str | None,
    flag: dict[str, Any],
    strike: bool,
    at: datetime,
) -> Event:
    """Auto-moderation held (``target_id`` set) or refused (``target_id`` null: nothing was
    written) a member's post or comment; onboarding's moderation may count it as a strike.
    On its own topic, keyed by the member, so a consumer of strikes reads nothing else."""
    data = {
        "tenant_id": tenant_id,
        "member_id": member_id,
        "community_id": community_id,
        "target_kind": target_kind,
        "target_id": target_id,
        "post_id": post_id,
        "action": flag["action"],
        "rule_id": flag["rule_id"],
        "rule_kind": flag["kind"],
        "rule_pattern": flag["pattern"],
        "strike": strike,
        "flagged_at": at.isoformat(),
    }
    return new_event(
        type=ITEM_FLAGGED,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=MODERATION,
        data=data,
        key=member_id,
        subject=target_id or community_id,
    )
