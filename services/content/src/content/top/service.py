"""Use cases of feed "top": a member's view, and their feed in score order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.domain import SEATED, TENANT_WIDE, may_see
from content.audience.repository import AudienceRepository
from content.posts import service as posts
from content.posts.service import audience_of
from content.review.domain import ReviewState
from content.top.repository import AfterScore, Row, TopRepository
from servicekit.auth import Principal
from servicekit.problems import Problem

SCAN_BATCHES = 20  # as reading's pages: a bounded scan, then a cursor to resume


async def view(session: AsyncSession, principal: Principal, post_id: str, now: datetime) -> bool:
    """Count the member's view of a post they may read, once per member."""
    post = await posts.readable(session, principal, post_id)
    if post.review_state != ReviewState.APPROVED:
        raise Problem(409, "not-published", "Not published", "only published posts count views")
    return await TopRepository(session).view(principal.tenant_id, post.id, principal.subject, now)


async def top_page(
    session: AsyncSession, principal: Principal, after: AfterScore, limit: int
) -> tuple[list[Row], AfterScore]:
    """Up to ``limit`` posts the member may see, best score first, and where the next page
    starts (None: the end)."""
    viewer = await AudienceRepository(session).viewer(principal.tenant_id, principal.subject)
    seated = {seat.community_id for seat in viewer.seats if seat.status in SEATED}
    if not seated:
        return [], None
    scope = sorted(seated | {TENANT_WIDE})
    repo = TopRepository(session)
    found: list[Row] = []
    batch = max(2 * (limit + 1), 50)
    for _ in range(SCAN_BATCHES):
        rows = await repo.page(principal.tenant_id, scope, after, batch)
        for row in rows:
            if may_see(audience_of(row), viewer):
                found.append(row)
                if len(found) > limit:
                    last = found[limit - 1]
                    return found[:limit], (last.top_score, last.id)
        if len(rows) < batch:
            return found, None
        after = (rows[-1].top_score, rows[-1].id)
    return found, after
