"""Content journeys through the gateway over real HTTP: onboarding's memberships and
sanctions reach content over Kafka and decide who may post; review and engagement."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
CT = "/v1/content"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def member_token(client: httpx.Client, tenant: Tenant, external_id: str) -> dict[str, str]:
    minted = client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": tenant.api_key},
        json={"external_id": external_id, "profile": {"display_name": external_id}},
    )
    assert minted.status_code == 201, minted.text
    return bearer(str(minted.json()["access_token"]))


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Events travel outbox → broker → consumer: wait for their effect, to a deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        time.sleep(0.1)


async def content_events(bootstrap: str, key: str, until: str) -> list[str]:
    """Types of the records on content.posts keyed ``key``, read until an ``until`` one."""
    consumer = AIOKafkaConsumer(
        "content.posts",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    found: list[str] = []
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                if record.key is None or record.key.decode() != key:
                    continue
                headers = {name: value.decode() for name, value in record.headers}
                found.append(headers["ce_type"])
                if found[-1] == until:
                    return found
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


def test_post_review_engagement_and_a_mute_across_services(
    platform: Platform, tenant: Tenant
) -> None:
    suffix = uuid.uuid4().hex[:8]
    alice_id, bob_id = f"alice-{suffix}", f"bob-{suffix}"
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        community = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"club-{suffix}", "name": "读书会", "groups": [{"name": "一群"}]},
            )
        )
        cid = community["id"]
        alice, bob = member_token(client, tenant, alice_id), member_token(client, tenant, bob_id)
        for member in (alice, bob):
            created(client.post(f"{OB}/communities/{cid}/join", headers=member))

        def seated(member: dict[str, str]) -> Callable[[], bool]:
            return lambda: client.get(f"{CT}/communities/{cid}/posts", headers=member).is_success

        eventually(seated(alice), "content saw alice's activation")
        eventually(seated(bob), "content saw bob's activation")

        post = created(
            client.post(
                f"{CT}/posts",
                headers=alice,
                json={"kind": "text", "body": "第一次打卡", "audience": {"community_ids": [cid]}},
            )
        )
        assert post["review_state"] == "pending"
        assert client.get(f"{CT}/posts/{post['id']}", headers=bob).status_code == 404
        approved = client.post(f"{CT}/review/posts/{post['id']}/approve", json={}, headers=owner)
        assert approved.status_code == 200, approved.text

        comment = created(
            client.post(f"{CT}/posts/{post['id']}/comments", json={"body": "加油"}, headers=bob)
        )
        decided = client.post(
            f"{CT}/review/decisions",
            headers=owner,
            json={"items": [{"target": "comment", "id": comment["id"], "decision": "approve"}]},
        )
        assert decided.json()["decided"] == 1, decided.text
        assert client.put(f"{CT}/posts/{post['id']}/like", headers=bob).status_code == 200
        assert client.put(f"{CT}/posts/{post['id']}/like", headers=bob).status_code == 200
        created(client.post(f"{CT}/posts/{post['id']}/shares", headers=bob))
        seen = client.get(f"{CT}/posts/{post['id']}", headers=bob).json()
        assert (seen["like_count"], seen["comment_count"], seen["share_count"]) == (1, 1, 1)
        assert seen["liked"] is True and [c["body"] for c in seen["comments"]["items"]] == ["加油"]

        # onboarding mutes bob; content refuses his posts from its own projection
        created(
            client.post(
                f"{OB}/communities/{cid}/sanctions",
                headers=owner,
                json={"member_id": bob_id, "reason": "刷屏", "kind": "mute", "duration_hours": 24},
            )
        )

        def refused() -> bool:
            answer = client.post(
                f"{CT}/posts",
                headers=bob,
                json={"kind": "text", "body": "再发一条", "audience": {"community_ids": [cid]}},
            )
            assert answer.status_code in (201, 403), answer.text
            return answer.status_code == 403 and answer.json()["type"].endswith("/muted")

        eventually(refused, "content saw bob's mute")

    bootstrap = platform.bootstrap_servers
    alices = asyncio.run(content_events(bootstrap, alice_id, "quanzi.content.post.published.v1"))
    assert alices == [
        "quanzi.content.post.held.v1",
        "quanzi.content.post.approved.v1",
        "quanzi.content.post.published.v1",
    ]
    bobs = asyncio.run(content_events(bootstrap, bob_id, "quanzi.content.post.shared.v1"))
    assert "quanzi.content.comment.approved.v1" in bobs  # for rewards' approved-comment rule


def test_rewards_credit_approved_comments_shares_and_recommendations_once_with_caps(
    platform: Platform, tenant: Tenant
) -> None:
    """+10 an approved comment (30 a day), +15 a share (45 a day), +10 a recommendation:
    content's events reach rewards over Kafka; repeats are credited once."""
    suffix = uuid.uuid4().hex[:8]
    alice_id, bob_id = f"alice-{suffix}", f"bob-{suffix}"
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        cid = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"pts-{suffix}", "name": "积分群", "groups": [{"name": "一群"}]},
            )
        )["id"]
        alice, bob = member_token(client, tenant, alice_id), member_token(client, tenant, bob_id)
        for member in (alice, bob):
            created(client.post(f"{OB}/communities/{cid}/join", headers=member))
            eventually(
                lambda m=member: client.get(f"{CT}/communities/{cid}/posts", headers=m).is_success,
                "content saw the activation",
            )

        audience = {"community_ids": [cid]}
        post = created(
            client.post(
                f"{CT}/posts",
                headers=alice,
                json={"kind": "text", "body": "干货", "audience": audience},
            )
        )
        approved = client.post(f"{CT}/review/posts/{post['id']}/approve", json={}, headers=owner)
        assert approved.status_code == 200, approved.text
        recommend = f"{CT}/posts/{post['id']}/recommend"
        assert client.post(recommend, headers=owner).status_code == 201
        assert client.post(recommend, headers=owner).status_code == 200  # once per post

        comments = [
            created(
                client.post(
                    f"{CT}/posts/{post['id']}/comments", json={"body": f"好 {i}"}, headers=bob
                )
            )["id"]
            for i in range(4)
        ]
        items = [{"target": "comment", "id": c, "decision": "approve"} for c in comments]
        decided = client.post(f"{CT}/review/decisions", headers=owner, json={"items": items})
        assert decided.json()["decided"] == 4, decided.text

        others = [
            created(
                client.post(
                    f"{CT}/posts",
                    headers=owner,
                    json={"kind": "text", "body": f"早安 {i}", "audience": audience},
                )
            )["id"]
            for i in range(3)
        ]
        for post_id in [post["id"], *others, post["id"]]:  # the last one again: same link
            assert client.post(f"{CT}/posts/{post_id}/shares", headers=bob).is_success

        def earned(member: dict[str, str]) -> dict[str, list[int]]:
            answer = client.get("/v1/rewards/me/entries", headers=member)
            found: dict[str, list[int]] = {}
            for entry in answer.json().get("items", []) if answer.is_success else []:
                if entry["kind"] == "earn":
                    found.setdefault(entry["rule_id"], []).append(entry["points"])
            return found

        def bob_capped() -> bool:
            mine = earned(bob)
            return mine.get("approved-comment") == [10, 10, 10] and mine.get("share") == [15] * 3

        eventually(bob_capped, "bob's 4 comments and 4 shares credited up to the daily caps")
        eventually(
            lambda: earned(alice).get("recommendation") == [10], "alice's recommendation credited"
        )
        assert earned(alice).get("approved-post") == [10]
        assert "approved-comment" not in earned(alice) and "share" not in earned(alice)


def test_recurring_zao_an_for_two_time_zones_and_a_post_scheduled_seconds_ahead(
    platform: Platform, tenant: Tenant
) -> None:
    """An operator sets 早安 at 07:30 for a Shanghai and a New York community (each at its own
    07:30), and a post that content's timer publishes a few seconds later."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        ids = {}
        for zone in ("Asia/Shanghai", "America/New_York"):
            ids[zone] = created(
                client.post(
                    f"{OB}/communities",
                    headers=owner,
                    json={
                        "slug": f"tz-{zone[:4].lower()}-{suffix}",
                        "name": zone,
                        "timezone": zone,
                    },
                )
            )["id"]
        for cid in ids.values():
            eventually(
                lambda c=cid: client.get(f"{CT}/communities/{c}/posts", headers=owner).is_success,
                "content saw the community",
            )
        made = created(
            client.post(
                f"{CT}/recurring",
                headers=owner,
                json={
                    "post": {
                        "kind": "text",
                        "body": "早安，今天也要打卡",
                        "audience": {"community_ids": list(ids.values())},
                    },
                    "rule": "FREQ=DAILY",
                    "start": f"{datetime.now(UTC).date()}T07:30:00",
                },
            )
        )
        assert made["zones"] == {zone: [cid] for zone, cid in sorted(ids.items())}
        for item in made["upcoming"]:
            local = datetime.fromisoformat(item["at"]).astimezone(ZoneInfo(item["zone"]))
            assert (local.hour, local.minute) == (7, 30)

        soon = datetime.now(UTC) + timedelta(seconds=2)
        scheduled = created(
            client.post(
                f"{CT}/schedules",
                headers=owner,
                json={
                    "post": {
                        "kind": "text",
                        "body": "群公告：今晚八点分享",
                        "audience": {"community_ids": [ids["Asia/Shanghai"]]},
                    },
                    "publish_at": soon.isoformat(),
                },
            )
        )

        def published() -> bool:
            found = client.get(f"{CT}/schedules/{scheduled['id']}", headers=owner).json()
            return bool(found["state"] == "published")

        eventually(published, "content's timer published the scheduled post")
        page = client.get(f"{CT}/communities/{ids['Asia/Shanghai']}/posts", headers=owner).json()
        assert [p["body"] for p in page["items"]] == ["群公告：今晚八点分享"]


async def sequence_steps(bootstrap: str, key: str) -> list[dict[str, Any]]:
    """The first step_delivered record on content.sequences keyed ``key``."""
    consumer = AIOKafkaConsumer(
        "content.sequences",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                if record.key is not None and record.key.decode() == key:
                    return [json.loads(record.value)]
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


def test_a_newcomer_gets_the_first_step_and_search_finds_chinese(
    platform: Platform, tenant: Tenant
) -> None:
    suffix = uuid.uuid4().hex[:8]
    newcomer_id = f"new-{suffix}"
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        community = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"sop-{suffix}", "name": "打卡营", "groups": [{"name": "一群"}]},
            )
        )
        cid = community["id"]

        def known() -> bool:  # content has seen community.created
            answer = client.get(f"{CT}/communities/{cid}/posts", headers=owner)
            return answer.status_code == 200

        eventually(known, "content saw the community")
        sequence = created(
            client.post(
                f"{CT}/sequences",
                headers=owner,
                json={
                    "name": "新人SOP",
                    "trigger": "welcomed",
                    "community_id": cid,
                    "steps": [
                        {"delay_s": 0, "kind": "message", "body": "欢迎！明早七点一起打卡"},
                        {"delay_s": 86400, "kind": "post", "body": "第二天：读群规"},
                    ],
                },
            )
        )
        created(
            client.post(
                f"{CT}/posts",
                headers=owner,
                json={
                    "kind": "text",
                    "title": "新人必读",
                    "body": "社群运营第一课：每天打卡，坚持二十一天。",
                    "audience": {"community_ids": [cid]},
                },
            )
        )
        newcomer = member_token(client, tenant, newcomer_id)
        created(client.post(f"{OB}/communities/{cid}/join", headers=newcomer))

        def reached() -> bool:
            detail = client.get(f"{CT}/sequences/{sequence['id']}", headers=owner).json()
            return bool(detail["reach"][0]["delivered"] == 1)

        eventually(reached, "the newcomer reached the sequence's first step")
        found = client.get(f"{CT}/search", params={"q": "打卡"}, headers=newcomer).json()
        assert [hit["post"]["title"] for hit in found["items"]] == ["新人必读"]
        ((start, end),) = found["items"][0]["highlights"]
        assert found["items"][0]["snippet"][start:end] == "打卡"

    steps = asyncio.run(sequence_steps(platform.bootstrap_servers, newcomer_id))
    assert [(s["step"], s["body"]) for s in steps] == [(0, "欢迎！明早七点一起打卡")]


def test_a_blocked_post_is_refused_and_onboarding_counts_the_strike(
    platform: Platform, tenant: Tenant
) -> None:
    """Auto-moderation: a keyword rule refuses a member's post with the rule named, and
    onboarding's strikes consumer turns content's item.flagged into a ladder warning."""
    suffix = uuid.uuid4().hex[:8]
    carol_id = f"carol-{suffix}"
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        cid = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"mod-{suffix}", "name": "运营群", "groups": [{"name": "一群"}]},
            )
        )["id"]
        word = f"加微信{suffix}"
        rule = created(
            client.post(
                f"{CT}/moderation/rules",
                headers=owner,
                json={"kind": "keyword", "pattern": word, "action": "block"},
            )
        )
        carol = member_token(client, tenant, carol_id)
        created(client.post(f"{OB}/communities/{cid}/join", headers=carol))

        def answer() -> httpx.Response:
            spaced = " ".join(word.upper())  # spaced out and in capitals: still the keyword
            body = {"kind": "text", "body": f"资料 {spaced}", "audience": {"community_ids": [cid]}}
            return client.post(f"{CT}/posts", headers=carol, json=body)

        def seated_then_refused() -> bool:
            found = answer()
            assert found.status_code in (403, 422), found.text
            return found.status_code == 422

        eventually(seated_then_refused, "content saw carol's activation")
        problem = answer().json()
        assert problem["type"].endswith("/content-blocked") and problem["rule_id"] == rule["id"]
        mine = client.get(f"{CT}/me/posts", headers=carol).json()
        assert mine["items"] == []  # nothing written

        def warned() -> list[dict[str, Any]]:
            page = client.get(f"{OB}/communities/{cid}/sanctions", headers=owner).json()
            return list(page["items"])

        eventually(lambda: bool(warned()), "onboarding counted the strike")
        [warning] = warned()  # two refusals in one burst: one strike
        assert (warning["kind"], warning["issued_by"]) == ("warning", "content:automod")
        assert word in warning["reason"]
