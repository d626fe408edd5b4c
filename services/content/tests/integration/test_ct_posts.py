"""Posts, review and engagement over the API, on SQLite and PostgreSQL, with the audience
projection fed the way the consumer feeds it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from servicekit.types import utcnow

POSTED = "quanzi.content.post.published.v1"
HELD = "quanzi.content.post.held.v1"
APPROVED = "quanzi.content.post.approved.v1"
REJECTED = "quanzi.content.post.rejected.v1"
SHARED = "quanzi.content.post.shared.v1"
RECOMMENDED = "quanzi.content.post.recommended.v1"
COMMENT_APPROVED = "quanzi.content.comment.approved.v1"


async def _operator_post(api: Any, **body: Any) -> dict[str, Any]:
    answer = await api.post(api.operator(), **body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_a_member_post_is_held_approved_then_seen_by_its_community(api: Any) -> None:
    await api.seat("m-1")
    await api.seat("m-2")
    await api.seat("m-3", "c-2")
    answer = await api.post(api.member("m-1"), body="我的第一篇打卡")
    assert answer.status_code == 201, answer.text
    post = answer.json()
    assert post["review_state"] == "pending"
    # held: its author sees it, the community does not yet
    assert (
        await api.client.get(f"/v1/content/posts/{post['id']}", headers=api.member("m-1"))
    ).status_code == 200
    assert (
        await api.client.get(f"/v1/content/posts/{post['id']}", headers=api.member("m-2"))
    ).status_code == 404
    queue = (await api.client.get("/v1/content/review/posts", headers=api.operator())).json()
    assert [item["id"] for item in queue["items"]] == [post["id"]]

    approve = await api.client.post(
        f"/v1/content/review/posts/{post['id']}/approve", json={}, headers=api.operator()
    )
    assert approve.status_code == 200 and approve.json()["review_state"] == "approved"
    feed = (await api.client.get("/v1/content/feed", headers=api.member("m-2"))).json()
    assert [item["id"] for item in feed["items"]] == [post["id"]]
    other = (await api.client.get("/v1/content/feed", headers=api.member("m-3"))).json()
    assert other["items"] == []
    assert [e.type for e in await api.published()] == [HELD, APPROVED, POSTED]
    again = await api.client.post(
        f"/v1/content/review/posts/{post['id']}/approve", json={}, headers=api.operator()
    )
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


async def test_muted_banned_and_former_members_may_not_post(api: Any) -> None:
    now = utcnow()
    await api.seat("m-1", at=now - timedelta(days=3))
    await api.deliver(
        api.membership(
            "muted",
            "m-1",
            muted_until=(now + timedelta(hours=2)).isoformat(),
            at=now - timedelta(hours=1),
        )
    )
    refused = await api.post(api.member("m-1"))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/muted")
    # a mute that has ended lets them speak, even before onboarding's unmuted arrives
    await api.deliver(
        api.membership(
            "muted",
            "m-1",
            muted_until=(now - timedelta(minutes=1)).isoformat(),
            at=now - timedelta(minutes=30),
        )
    )
    assert (await api.post(api.member("m-1"))).status_code == 201
    await api.deliver(api.membership("banned", "m-1", at=now))
    banned = await api.post(api.member("m-1"))
    assert banned.status_code == 403 and banned.json()["type"].endswith("/banned")
    await api.seat("m-2", at=now - timedelta(days=3))
    await api.deliver(api.membership("left", "m-2", at=now))
    gone = await api.post(api.member("m-2"))
    assert gone.status_code == 403 and gone.json()["type"].endswith("/not-a-member")
    # an older event arriving late does not seat them again
    await api.deliver(
        api.membership(
            "renewed",
            "m-2",
            at=now - timedelta(days=1),
            payment_id="p-1",
            term_ends_at=now.isoformat(),
            refund_window_ends_at=None,
        )
    )
    assert (await api.post(api.member("m-2"))).status_code == 403


async def test_members_at_the_auto_approve_level_skip_review(api: Any) -> None:
    await api.seat("m-1")
    await api.seat("m-2")
    put = await api.client.put(
        "/v1/content/communities/c-1/settings",
        json={"auto_approve_level": 3},
        headers=api.operator(),
    )
    assert put.status_code == 200
    await api.deliver(api.level("m-1", 3), api.level("m-2", 2))
    assert (await api.post(api.member("m-1"))).json()["review_state"] == "approved"
    assert (await api.post(api.member("m-2"))).json()["review_state"] == "pending"
    [approved] = await api.published(APPROVED)  # for rewards' approved-post rule
    assert approved.data["author_id"] == "m-1" and approved.data["reviewed_by"] is None
    # an older level report does not undo a newer one
    await api.deliver(api.level("m-1", 1, at=utcnow() - timedelta(days=1)))
    assert (await api.post(api.member("m-1"))).json()["review_state"] == "approved"


async def test_targeting_by_tier_group_kind_and_level(api: Any) -> None:
    await api.deliver(api.group("g-core", "core"), api.group("g-trial", "trial"))
    await api.seat("core", tier="core", group_id="g-core")
    await api.seat("trial", tier="trial", group_id="g-trial")
    post = await _operator_post(
        api,
        audience={
            "community_ids": ["c-1"],
            "tiers": ["core"],
            "group_kinds": ["core"],
            "min_level": 2,
        },
    )
    url = f"/v1/content/posts/{post['id']}"
    assert (await api.client.get(url, headers=api.member("core"))).status_code == 404  # level 1
    await api.deliver(api.level("core", 2), api.level("trial", 5))
    assert (await api.client.get(url, headers=api.member("core"))).status_code == 200
    assert (await api.client.get(url, headers=api.member("trial"))).status_code == 404
    listed = await api.client.get("/v1/content/communities/c-1/posts", headers=api.member("trial"))
    assert listed.status_code == 200 and listed.json()["items"] == []
    outsider = await api.client.get(
        "/v1/content/communities/c-1/posts", headers=api.member("nobody")
    )
    assert outsider.status_code == 403


async def test_bad_content_is_a_named_422_and_nothing_is_written(api: Any) -> None:
    await api.seat("m-1")
    image = {
        "url": "http://cdn.example/a.jpg",
        "type": "image",
        "mime_type": "image/jpeg",
        "size_bytes": 10,
    }
    answer = await api.post(api.operator(), kind="images", media=[image])
    assert answer.status_code == 422 and answer.json()["type"].endswith("/media-url")
    video = {
        "url": "https://cdn.example/a.mp4",
        "type": "video",
        "mime_type": "video/mp4",
        "size_bytes": 10,
    }
    answer = await api.post(api.operator(), kind="video", media=[video])
    assert answer.status_code == 422 and answer.json()["type"].endswith("/media-duration")
    wide = await api.post(api.member("m-1"), audience={"tenant_wide": True})
    assert wide.status_code == 422 and wide.json()["type"].endswith("/member-audience")
    both = await api.post(api.operator(), audience={"tenant_wide": True, "community_ids": ["c-1"]})
    assert both.status_code == 422
    unknown = await api.post(api.operator(), colour="red")
    assert unknown.status_code == 422
    assert await api.published() == []
    assert (await api.client.get("/v1/content/review/posts", headers=api.operator())).json()[
        "items"
    ] == []


async def test_unknown_communities_are_not_found(api: Any) -> None:
    await api.deliver(api.community("c-b", tenant_id="t-other"))
    answer = await api.post(api.operator(), audience={"community_ids": ["c-1", "c-b"]})
    assert answer.status_code == 404 and answer.json()["community_ids"] == ["c-b"]
    for path in ("/communities/c-b/posts", "/communities/c-b/settings"):
        assert (
            await api.client.get("/v1/content" + path, headers=api.operator())
        ).status_code == 404
    put = await api.client.put(
        "/v1/content/communities/nope/settings",
        json={"auto_approve_level": 2},
        headers=api.operator(),
    )
    assert put.status_code == 404
    assert await api.published() == []


async def test_edit_keeps_history_and_delete_is_soft_with_a_reason(api: Any) -> None:
    await api.seat("m-1")
    await api.client.put(
        "/v1/content/communities/c-1/settings",
        json={"auto_approve_level": 1},
        headers=api.operator(),
    )
    post = (await api.post(api.member("m-1"), body="v1")).json()
    assert post["review_state"] == "approved"
    base = f"/v1/content/posts/{post['id']}"
    edited = await api.client.patch(
        base, json={"body": "v2", "tags": ["打卡"]}, headers=api.member("m-1")
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    revisions = (await api.client.get(f"{base}/revisions", headers=api.operator())).json()
    assert [r["body"] for r in revisions] == ["v2", "v1"]
    mine = await api.client.get(f"{base}/revisions", headers=api.member("m-1"))
    assert [r["version"] for r in mine.json()] == [2, 1]
    await api.seat("m-2")
    theirs = await api.client.get(f"{base}/revisions", headers=api.member("m-2"))
    assert theirs.status_code == 404
    assert (
        await api.client.patch(base, json={"body": "x"}, headers=api.member("m-2"))
    ).status_code == 404
    pin = await api.client.patch(base, json={"pinned": True}, headers=api.member("m-1"))
    assert pin.status_code == 403
    deleted = await api.client.post(
        f"{base}/delete", json={"reason": "重复发布"}, headers=api.operator()
    )
    assert deleted.status_code == 200 and deleted.json()["delete_reason"] == "重复发布"
    assert (await api.client.get(base, headers=api.operator())).status_code == 404
    assert (
        await api.client.post(f"{base}/delete", json={"reason": "x"}, headers=api.operator())
    ).status_code == 409


async def test_a_member_edit_of_an_approved_post_is_reviewed_again(api: Any) -> None:
    await api.seat("m-1")
    post = (await api.post(api.member("m-1"))).json()
    await api.client.post(
        f"/v1/content/review/posts/{post['id']}/approve", json={}, headers=api.operator()
    )
    edited = await api.client.patch(
        f"/v1/content/posts/{post['id']}", json={"body": "加个广告"}, headers=api.member("m-1")
    )
    assert edited.json()["review_state"] == "pending"
    held = await api.published(HELD)
    assert [e.data["resubmitted"] for e in held] == [False, True]


async def test_pinned_announcements_and_live_updates(api: Any) -> None:
    await api.seat("m-1")
    pinned = await _operator_post(api, pinned=True, body="群公告：周五分享会")
    await _operator_post(api, body="普通帖")
    page = (
        await api.client.get(
            "/v1/content/communities/c-1/posts?pinned=true", headers=api.member("m-1")
        )
    ).json()
    assert [item["id"] for item in page["items"]] == [pinned["id"]]
    live = await _operator_post(api, kind="live", body="直播开始")
    base = f"/v1/content/posts/{live['id']}/updates"
    assert (
        await api.client.post(base, json={"body": "第一节"}, headers=api.operator())
    ).status_code == 201
    updates = (await api.client.post(base, json={"body": "第二节"}, headers=api.operator())).json()
    assert [u["body"] for u in updates] == ["第一节", "第二节"]
    not_live = await api.client.post(
        f"/v1/content/posts/{pinned['id']}/updates", json={"body": "x"}, headers=api.operator()
    )
    assert not_live.status_code == 409


async def test_bulk_review_reports_each_item(api: Any) -> None:
    await api.seat("m-1")
    first = (await api.post(api.member("m-1"))).json()
    second = (await api.post(api.member("m-1"))).json()
    await api.client.post(
        f"/v1/content/review/posts/{second['id']}/reject",
        json={"reason": "广告"},
        headers=api.operator(),
    )
    answer = await api.client.post(
        "/v1/content/review/decisions",
        json={
            "items": [
                {"target": "post", "id": first["id"], "decision": "approve"},
                {"target": "post", "id": second["id"], "decision": "approve"},
                {"target": "post", "id": "nope", "decision": "reject", "reason": "x"},
                {"target": "post", "id": first["id"], "decision": "reject"},
            ]
        },
        headers=api.operator(),
    )
    assert answer.status_code == 200
    out = answer.json()
    assert (out["decided"], out["refused"]) == (1, 3)
    assert [i["error"] for i in out["items"]] == [
        None,
        "review-not-allowed",
        "not-found",
        "reason-required",
    ]
    assert len(await api.published(APPROVED)) == 1


async def test_rejecting_an_approved_post_says_it_was_approved(api: Any) -> None:
    await api.seat("m-1")
    post = (await api.post(api.member("m-1"))).json()
    await api.client.post(
        f"/v1/content/review/posts/{post['id']}/approve", json={}, headers=api.operator()
    )
    answer = await api.client.post(
        f"/v1/content/review/posts/{post['id']}/reject",
        json={"reason": "违规"},
        headers=api.operator(),
    )
    assert answer.json()["review_state"] == "rejected"
    [rejected] = await api.published(REJECTED)
    assert rejected.data["previously_approved"] is True and rejected.key == "m-1"


async def test_comments_replies_likes_and_shares(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    post = await _operator_post(api)
    base = f"/v1/content/posts/{post['id']}"
    held = await api.client.post(
        f"{base}/comments", json={"body": "第一"}, headers=api.member("m-1")
    )
    assert held.status_code == 201 and held.json()["review_state"] == "pending"
    mine = (await api.client.get(f"{base}/comments", headers=api.member("m-1"))).json()["items"]
    theirs = (await api.client.get(f"{base}/comments", headers=api.member("m-2"))).json()["items"]
    assert len(mine) == 1 and theirs == []
    comment = held.json()
    early = await api.client.post(
        f"{base}/comments",
        json={"body": "x", "parent_id": comment["id"]},
        headers=api.member("m-2"),
    )
    assert early.status_code == 404  # a held comment is not there to reply to
    approve = await api.client.post(
        f"/v1/content/review/comments/{comment['id']}/approve", json={}, headers=api.operator()
    )
    assert approve.status_code == 200
    reply = await api.client.post(
        f"{base}/comments",
        json={"body": "回复", "parent_id": comment["id"]},
        headers=api.operator(),
    )
    assert reply.status_code == 201
    deeper = await api.client.post(
        f"{base}/comments",
        json={"body": "x", "parent_id": reply.json()["id"]},
        headers=api.member("m-2"),
    )
    assert deeper.status_code == 422
    assert len(await api.published(COMMENT_APPROVED)) == 2

    likes = await asyncio.gather(
        *(
            api.client.put(f"{base}/like", headers=api.member(m))
            for m in ("m-1", "m-2", "m-3", "m-1", "m-2")
        )
    )
    assert all(answer.status_code == 200 for answer in likes)
    after = (await api.client.get(base, headers=api.operator())).json()
    assert after["like_count"] == 3 and after["comment_count"] == 2
    assert (await api.client.delete(f"{base}/like", headers=api.member("m-1"))).json()[
        "like_count"
    ] == 2
    assert (await api.client.delete(f"{base}/like", headers=api.member("m-1"))).json()[
        "like_count"
    ] == 2
    assert (await api.client.put(f"{base}/bookmark", headers=api.member("m-1"))).json()[
        "bookmark_count"
    ] == 1

    first = await api.client.post(f"{base}/shares", headers=api.member("m-2"))
    second = await api.client.post(f"{base}/shares", headers=api.member("m-2"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["token"] == second.json()["token"]
    [shared] = await api.published(SHARED)
    assert shared.data["member_id"] == "m-2" and shared.data["token"] == first.json()["token"]
    assert (await api.client.get(base, headers=api.operator())).json()["share_count"] == 1


async def test_a_muted_member_may_read_and_like_but_not_comment(api: Any) -> None:
    await api.seat("m-1")
    await api.deliver(
        api.membership("muted", "m-1", muted_until=(utcnow() + timedelta(days=1)).isoformat())
    )
    post = await _operator_post(api)
    base = f"/v1/content/posts/{post['id']}"
    assert (await api.client.get(base, headers=api.member("m-1"))).status_code == 200
    assert (await api.client.put(f"{base}/like", headers=api.member("m-1"))).status_code == 200
    refused = await api.client.post(
        f"{base}/comments", json={"body": "x"}, headers=api.member("m-1")
    )
    assert refused.status_code == 403 and refused.json()["type"].endswith("/muted")


async def test_pages_walk_newest_first_without_gaps(api: Any) -> None:
    await api.seat("m-1")
    ids = [(await _operator_post(api, body=f"post {n}"))["id"] for n in range(5)]
    seen: list[str] = []
    cursor = ""
    while True:
        page = (
            await api.client.get(
                f"/v1/content/feed?limit=2&cursor={cursor}", headers=api.member("m-1")
            )
        ).json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(ids))
    bad = await api.client.get("/v1/content/feed?cursor=garbage", headers=api.member("m-1"))
    assert bad.status_code == 400


async def test_roles_decide_who_may_do_what(api: Any) -> None:
    answer = await api.post(api.operator("activity_officer"))
    assert answer.status_code == 403
    post = await _operator_post(api)
    read = await api.client.get(
        f"/v1/content/posts/{post['id']}", headers=api.operator("activity_officer")
    )
    assert read.status_code == 200
    settings = await api.client.put(
        "/v1/content/communities/c-1/settings",
        json={"auto_approve_level": 2},
        headers=api.operator("operator"),
    )
    assert settings.status_code == 403
    queue = await api.client.get("/v1/content/review/posts", headers=api.member("m-1"))
    assert queue.status_code == 403


async def test_a_post_opens_with_its_comments_updates_and_my_marks(api: Any) -> None:
    await api.seat("m-1")
    await api.seat("m-2")
    post = await _operator_post(api, kind="live", body="直播")
    base = f"/v1/content/posts/{post['id']}"
    await api.client.post(f"{base}/updates", json={"body": "开场"}, headers=api.operator())
    for n in range(22):
        await api.client.post(f"{base}/comments", json={"body": f"c{n}"}, headers=api.operator())
    held = await api.client.post(
        f"{base}/comments", json={"body": "mine"}, headers=api.member("m-1")
    )
    await api.client.put(f"{base}/like", headers=api.member("m-1"))
    mine = (await api.client.get(base, headers=api.member("m-1"))).json()
    assert mine["liked"] is True and mine["bookmarked"] is False
    assert [u["body"] for u in mine["updates"]] == ["开场"]
    assert len(mine["comments"]["items"]) == 20 and mine["comments"]["next_cursor"]
    rest = await api.client.get(
        f"{base}/comments?cursor={mine['comments']['next_cursor']}", headers=api.member("m-1")
    )
    assert [c["body"] for c in rest.json()["items"]] == ["c20", "c21", "mine"]
    theirs = (await api.client.get(base, headers=api.member("m-2"))).json()
    assert theirs["liked"] is False and theirs["comment_count"] == 22
    rest = await api.client.get(
        f"{base}/comments?cursor={theirs['comments']['next_cursor']}", headers=api.member("m-2")
    )
    assert held.json()["id"] not in [c["id"] for c in rest.json()["items"]]


async def test_roles_and_tier_changes_move_what_a_member_sees(api: Any) -> None:
    await api.seat("m-1", tier="trial", group_id="g-trial")
    guests = await _operator_post(
        api, audience={"community_ids": ["c-1"], "roles": ["guest_speaker"]}
    )
    core = await _operator_post(api, audience={"community_ids": ["c-1"], "tiers": ["core"]})

    async def visible() -> set[str]:
        page = (await api.client.get("/v1/content/feed", headers=api.member("m-1"))).json()
        return {item["id"] for item in page["items"]}

    assert await visible() == set()
    await api.deliver(api.role("granted", "r-1", "m-1", "guest_speaker"))
    assert await visible() == {guests["id"]}
    changed = api.membership(
        "tier_changed",
        "m-1",
        from_tier="trial",
        to_tier="core",
        from_group_id="g-trial",
        to_group_id="g-core",
        reason="payment",
    )
    await api.deliver(changed)
    assert await visible() == {guests["id"], core["id"]}
    await api.deliver(api.role("revoked", "r-1", "m-1", "guest_speaker"))
    assert await visible() == {core["id"]}
    await api.deliver(api.membership("expired", "m-1"))
    assert await visible() == set()


async def test_counters_hold_under_concurrent_requests(api: Any) -> None:
    members = [f"m-{n}" for n in range(15)]
    for member in members:
        await api.seat(member)
    post = await _operator_post(api)
    base = f"/v1/content/posts/{post['id']}"

    async def together(method: str, path: str, who: list[str]) -> None:
        answers = await asyncio.gather(
            *(api.client.request(method, base + path, headers=api.member(m)) for m in who)
        )
        assert all(answer.status_code in (200, 201) for answer in answers), answers

    await together("PUT", "/like", members * 2)  # every member twice, all at once
    await together("DELETE", "/like", members[:5] * 2)
    await together("POST", "/shares", members[:3] * 3)
    await together("PUT", "/bookmark", members[:4] * 2)
    after = (await api.client.get(base, headers=api.operator())).json()
    assert (after["like_count"], after["share_count"], after["bookmark_count"]) == (10, 3, 4)
    assert len(await api.published(SHARED)) == 3


async def test_two_operators_approving_at_once_approve_once(api: Any) -> None:
    await api.seat("m-1")
    posts = [(await api.post(api.member("m-1"))).json() for _ in range(3)]
    calls = [
        api.client.post(
            f"/v1/content/review/posts/{p['id']}/approve", json={}, headers=api.operator()
        )
        for p in posts
        for _ in range(3)
    ]
    answers = await asyncio.gather(*calls)
    assert sorted(a.status_code for a in answers) == [200] * 3 + [409] * 6
    approved = await api.published(APPROVED)
    assert sorted(e.data["post_id"] for e in approved) == sorted(p["id"] for p in posts)


async def test_community_admins_review_their_community_with_a_member_token(api: Any) -> None:
    for member in ("m-1", "mod"):
        await api.seat(member)
        await api.seat(member, "c-2")
    await api.deliver(api.role("granted", "r-9", "mod", "admin", community_id="c-1"))
    here = (await api.post(api.member("m-1"))).json()
    there = (await api.post(api.member("m-1"), audience={"community_ids": ["c-2"]})).json()
    mod = api.member("mod")

    queue = await api.client.get("/v1/content/review/posts?community_id=c-1", headers=mod)
    assert [p["id"] for p in queue.json()["items"]] == [here["id"]]
    for path in ("/v1/content/review/posts", "/v1/content/review/posts?community_id=c-2"):
        assert (await api.client.get(path, headers=mod)).status_code == 403
    approve = await api.client.post(
        f"/v1/content/review/posts/{here['id']}/approve", json={}, headers=mod
    )
    assert approve.status_code == 200
    refused = await api.client.post(
        f"/v1/content/review/posts/{there['id']}/approve", json={}, headers=mod
    )
    assert refused.status_code == 403 and refused.json()["type"].endswith("/not-a-moderator")
    plain = await api.client.post(
        f"/v1/content/review/posts/{here['id']}/reject",
        json={"reason": "x"},
        headers=api.member("m-1"),
    )
    assert plain.status_code == 403
    operators = await _operator_post(api)  # operators' posts are not theirs to judge
    late = await api.client.post(
        f"/v1/content/review/posts/{operators['id']}/reject", json={"reason": "x"}, headers=mod
    )
    assert late.status_code == 403
    [approved] = await api.published(APPROVED)
    assert approved.data["reviewed_by"] == "mod"
    await api.deliver(api.role("revoked", "r-9", "mod", "admin", community_id="c-1"))
    assert (
        await api.client.get("/v1/content/review/posts?community_id=c-1", headers=mod)
    ).status_code == 403


async def test_operators_recommend_a_published_post_once(api: Any) -> None:
    await api.seat("m-1")
    post = (await api.post(api.member("m-1"))).json()
    path = f"/v1/content/posts/{post['id']}/recommend"
    held = await api.client.post(path, headers=api.operator())
    assert held.status_code == 409 and held.json()["type"].endswith("post-not-published")
    await api.client.post(
        f"/v1/content/review/posts/{post['id']}/approve", json={}, headers=api.operator()
    )
    refused = await api.client.post(path, headers=api.member("m-1"))
    assert refused.status_code == 403
    first = await api.client.post(path, headers=api.operator())
    again = await api.client.post(path, headers=api.operator("content_officer"))
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert again.json() == first.json() and first.json()["post_id"] == post["id"]
    [recommended] = await api.published(RECOMMENDED)
    assert recommended.key == "m-1"
    assert recommended.data["author_id"] == "m-1" and recommended.data["community_id"] == "c-1"
    missing = await api.client.post("/v1/content/posts/nope/recommend", headers=api.operator())
    assert missing.status_code == 404
