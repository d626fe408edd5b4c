"""Reading: what a member may see, page by page, and a post as a reader opens it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from content.audience.domain import Viewer, may_see
from content.posts.repository import After, Row
from content.posts.service import audience_of

Fetch = Callable[[After, int], Awaitable[Sequence[Row]]]
SCAN_BATCHES = 20  # what one page may read, at most, to fill itself


@dataclass(frozen=True)
class VisiblePage:
    items: list[Row]
    resume_after: After  # where the next page starts; None: nothing further


async def visible_page(
    fetch: Fetch, viewer: Viewer, after: After, limit: int, *, batch: int = 0
) -> VisiblePage:
    """Up to ``limit`` posts ``viewer`` may see, newest first: the store narrows by
    community, the audience rule (tiers, groups, roles, level) filters the rest.

    A page reads at most ``SCAN_BATCHES`` batches; when a narrow audience leaves it short,
    it still says where to resume, so a short page is never mistaken for the last one.
    """
    found: list[Row] = []
    batch = batch or max(2 * (limit + 1), 50)
    for _ in range(SCAN_BATCHES):
        rows = await fetch(after, batch)
        for row in rows:
            if may_see(audience_of(row), viewer):
                found.append(row)
                if len(found) > limit:  # one more than a page: the page ends on the one before
                    last = found[limit - 1]
                    return VisiblePage(found[:limit], (last.created_at, last.id))
        if len(rows) < batch:
            return VisiblePage(found, None)
        after = (rows[-1].created_at, rows[-1].id)
    return VisiblePage(found, after)
