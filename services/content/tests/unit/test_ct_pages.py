"""A member's pages: keyset order plus the audience filter, walked to the end, give
exactly the posts the member may see, each once, newest first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from content.audience.domain import Audience, Seat, Status, Viewer, may_see
from content.reading.service import visible_page

T0 = datetime(2026, 12, 1, tzinfo=UTC)
VIEWER = Viewer("m", (Seat("c-1", Status.ACTIVE, tier="core"),), level=2)

audiences = st.builds(
    Audience,
    community_ids=st.frozensets(st.sampled_from(("c-1", "c-2")), min_size=1),
    tiers=st.frozensets(st.sampled_from(("trial", "core"))),
    min_level=st.none() | st.integers(1, 3),
)


def _rows(audience_list: list[Audience]) -> list[Any]:
    # Several posts may share a time: the id breaks the tie, as in the store.
    return [
        SimpleNamespace(
            id=f"p-{n:03d}", created_at=T0 + timedelta(seconds=n // 2), audience=a.to_json()
        )
        for n, a in enumerate(audience_list)
    ]


def _newest_first(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)


async def _walk(rows: list[Any], limit: int, batch: int) -> list[list[str]]:
    ordered = _newest_first(rows)

    async def fetch(after: tuple[datetime, str] | None, size: int) -> list[Any]:
        found = [r for r in ordered if after is None or (r.created_at, r.id) < after]
        return found[:size]

    pages, after = [], None
    for _ in range(len(rows) + 2):
        page = await visible_page(fetch, VIEWER, after, limit, batch=batch)
        assert len(page.items) <= limit
        pages.append([row.id for row in page.items])
        if page.resume_after is None:
            return pages
        after = page.resume_after
    raise AssertionError("the walk did not end")


@settings(max_examples=60, deadline=None)
@given(st.lists(audiences, max_size=40), st.integers(1, 5), st.integers(1, 4))
def test_pages_hold_every_visible_post_once_in_order(
    audience_list: list[Audience], limit: int, batch: int
) -> None:
    rows = _rows(audience_list)
    pages = asyncio.run(_walk(rows, limit, batch))
    walked = [post for page in pages for post in page]
    expected = [
        r.id for r in _newest_first(rows) if may_see(Audience.from_json(r.audience), VIEWER)
    ]
    assert walked == expected
