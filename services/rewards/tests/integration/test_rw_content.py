"""Content's events credit members by the tenant's default rules, on SQLite and PostgreSQL:
+10 an approved comment (30 a day), +10 a recommendation (30 a day), +15 a share (45 a
day), each day the community's local day; a rejection after approval takes back what
the post or comment earned. Events go through the consumer's handler table
(``rewards.app.CONTENT``), one by one and as one batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from servicekit.events import Event

if TYPE_CHECKING:
    from conftest import Ledger

TENANT = "t-acme"
SH = "c-shanghai"
PREFIX = "quanzi.content."
REVERSED = "quanzi.rewards.points.reversed.v1"
# 2026-03-07 23:00 in Shanghai (UTC+8): one hour before its local midnight.
LATE = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)


def content(kind: str, key: str, at: datetime, **data: Any) -> Event:
    return Event(
        type=f"{PREFIX}{kind}.v1",
        source="/content",
        tenant_id=TENANT,
        topic="content.posts",
        key=key,
        time=at,
        data={"tenant_id": TENANT, **data},
    )


def comment_approved(comment_id: str, author: str, at: datetime, kind: str = "member") -> Event:
    return content(
        "comment.approved",
        author,
        at,
        post_id="p-0",
        comment_id=comment_id,
        author_id=author,
        author_kind=kind,
        community_id=SH,
    )


def post_part(post_id: str, author: str, kind: str = "member") -> dict[str, Any]:
    return {
        "post_id": post_id,
        "author_id": author,
        "author_kind": kind,
        "community_ids": [SH],
        "tenant_wide": False,
    }


def recommended(post_id: str, author: str, at: datetime, kind: str = "member") -> Event:
    part = post_part(post_id, author, kind)
    return content("post.recommended", author, at, **part, community_id=SH, recommended_by="op")


def shared(post_id: str, sharer: str, at: datetime) -> Event:
    return content(
        "post.shared", sharer, at, post_id=post_id, member_id=sharer, community_id=SH, token="t"
    )


def approved(post_id: str, author: str, at: datetime) -> Event:
    return content("post.approved", author, at, **post_part(post_id, author), reviewed_by="op")


def rejected(target: str, target_id: str, author: str, at: datetime, *, was: bool) -> Event:
    ids = post_part(target_id, author) if target == "post" else {"comment_id": target_id}
    return content(
        f"{target}.rejected",
        author,
        at,
        **{"post_id": "p-0", "author_id": author, **ids},
        reviewed_by="op",
        reason="违规",
        previously_approved=was,
    )


async def shanghai(ledger: Ledger) -> None:
    await ledger.deliver(
        ledger.tenant_zone("America/New_York"), ledger.community_zone(SH, "Asia/Shanghai")
    )


async def lifetime(ledger: Ledger, member_id: str) -> int:
    found = await ledger.balances(member_id)
    return found["lifetime"] if found else 0


async def test_comments_are_credited_once_each_up_to_the_local_days_cap(ledger: Ledger) -> None:
    await shanghai(ledger)
    first = comment_approved("k-1", "m-1", LATE)
    await ledger.deliver(first, first)  # redelivered: credited once
    assert await lifetime(ledger, "m-1") == 10
    await ledger.deliver(
        *(comment_approved(f"k-{i}", "m-1", LATE + timedelta(minutes=i)) for i in (2, 3, 4))
    )
    assert await lifetime(ledger, "m-1") == 30  # the 4th of the day is over the cap
    # 00:30 in Shanghai: a new local day (still 2026-03-07 in UTC and in New York)
    await ledger.deliver(comment_approved("k-5", "m-1", LATE + timedelta(minutes=90)))
    assert await lifetime(ledger, "m-1") == 40
    # operators' comments earn nothing (and open no wallet)
    await ledger.deliver(comment_approved("k-6", "op-1", LATE, kind="operator"))
    assert await ledger.balances("op-1") is None
    await ledger.check_invariants()


async def test_shares_and_recommendations_by_their_own_rules_and_caps(ledger: Ledger) -> None:
    await shanghai(ledger)
    await ledger.deliver_batch(
        *(shared(f"p-{i}", "m-2", LATE + timedelta(minutes=i)) for i in range(4)),
        *(recommended(f"p-{i}", "m-3", LATE + timedelta(minutes=i)) for i in range(4)),
        recommended("p-9", "op-1", LATE, kind="operator"),
    )
    assert await lifetime(ledger, "m-2") == 45  # 15 each, 45 a day
    assert await lifetime(ledger, "m-3") == 30  # 10 each, 30 a day
    assert await ledger.balances("op-1") is None
    await ledger.deliver(shared("p-9", "m-2", LATE + timedelta(hours=2)))  # the next local day
    assert await lifetime(ledger, "m-2") == 60
    await ledger.check_invariants()


async def test_a_rejection_after_approval_takes_back_what_the_content_earned(
    ledger: Ledger,
) -> None:
    await shanghai(ledger)
    await ledger.deliver(
        approved("p-1", "m-1", LATE),  # approved-post: 10
        recommended("p-1", "m-1", LATE),  # 10
        shared("p-1", "m-2", LATE),  # 15, to the sharer
        comment_approved("k-1", "m-1", LATE),  # 10
        approved("p-2", "m-1", LATE),  # 10, another post: kept
    )
    assert await lifetime(ledger, "m-1") == 40
    # A rejection of content that was never approved takes nothing.
    await ledger.deliver(rejected("post", "p-2", "m-1", LATE, was=False))
    assert await lifetime(ledger, "m-1") == 40

    withdrawn = rejected("post", "p-1", "m-1", LATE + timedelta(minutes=5), was=True)
    await ledger.deliver(withdrawn, withdrawn)  # redelivered: reversed once
    assert await lifetime(ledger, "m-1") == 20  # its approval and its recommendation
    assert await lifetime(ledger, "m-2") == 15  # the share stays with the sharer
    await ledger.deliver(rejected("comment", "k-1", "m-1", LATE, was=True))
    assert await lifetime(ledger, "m-1") == 10
    reversals = await ledger.published(REVERSED)
    assert sorted(e.data["points"] for e in reversals) == [-10, -10, -10]
    assert {e.data["member_id"] for e in reversals} == {"m-1"}
    await ledger.check_invariants()
