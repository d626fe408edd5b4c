"""Onboarding journeys through the gateway over real HTTP: the platform as processes, a real
broker, a tenant set up the way a company is (owner, API keys, member tokens)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka import AIOKafkaConsumer

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
REFUNDED = "quanzi.onboarding.membership.refunded.v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gateway(platform: Platform) -> httpx.Client:
    return httpx.Client(base_url=platform.gateway_url, timeout=20)


def member_token(client: httpx.Client, tenant: Tenant, external_id: str) -> str:
    """What the tenant's backend does when a member signs in: a members:write key mints it."""
    minted = client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": tenant.api_key},
        json={"external_id": external_id, "profile": {"display_name": external_id}},
    )
    assert minted.status_code == 201, minted.text
    return str(minted.json()["access_token"])


def payments_key(client: httpx.Client, tenant: Tenant) -> str:
    created = client.post(
        "/v1/api-keys",
        headers=bearer(tenant.owner_token),
        json={"name": "billing", "scopes": ["payments:write"]},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def events_of(bootstrap: str, topic: str, key: str, until: str) -> list[tuple[str, Any]]:
    """(type, data) of the records keyed ``key`` on ``topic``, read until a ``until`` one."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    found: list[tuple[str, Any]] = []
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                if record.key is None or record.key.decode() != key:
                    continue
                headers = {name: value.decode() for name, value in record.headers}
                found.append((headers["ce_type"], json.loads(record.value)))
                if headers["ce_type"] == until:
                    return found
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


QUESTIONNAIRE = {
    "fields": [
        {"key": "name", "label": "怎么称呼", "kind": "text", "max_length": 40},
        {"key": "city", "label": "城市", "kind": "choice", "choices": ["杭州", "上海", "其他"]},
    ]
}


def test_apply_approve_pay_refund_reaches_kafka(platform: Platform, tenant: Tenant) -> None:
    with gateway(platform) as client:
        owner = bearer(tenant.owner_token)
        community = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={
                    "slug": slug("paid-reading"),
                    "name": "读书会（付费）",
                    "join_policy": "paid",
                    "price_cents": 19900,
                    "currency": "CNY",
                    "term_kind": "rolling",
                    "term_days": 365,
                    "refund_window_hours": 72,
                    "application_form": QUESTIONNAIRE,
                },
            )
        )
        applicant = slug("applicant")
        member = bearer(member_token(client, tenant, applicant))
        bad = client.post(
            f"{OB}/communities/{community['id']}/applications",
            headers=member,
            json={"answers": {"city": "北京"}},
        )
        assert bad.status_code == 422 and len(bad.json()["errors"]) == 2
        applied = created(
            client.post(
                f"{OB}/communities/{community['id']}/applications",
                headers=member,
                json={"answers": {"name": "小林", "city": "杭州"}},
            )
        )
        assert applied["membership"]["status"] == "pending_application"

        queue = client.get(
            f"{OB}/applications",
            headers=owner,
            params={"status": "pending", "community_id": community["id"]},
        )
        [waiting] = queue.json()["items"]
        approved = client.post(f"{OB}/applications/{waiting['id']}/approve", headers=owner, json={})
        assert approved.status_code == 200, approved.text
        assert approved.json()["membership"]["status"] == "pending_payment"

        billing = {"X-Api-Key": payments_key(client, tenant), "Idempotency-Key": slug("pay")}
        payment = {
            "reference": slug("wx"),
            "community_id": community["id"],
            "member_id": applicant,
            "amount_cents": 19900,
            "currency": "CNY",
        }
        paid = created(client.post(f"{OB}/payments", headers=billing, json=payment))
        assert paid["membership"]["status"] == "active"
        replay = client.post(f"{OB}/payments", headers=billing, json=payment)
        assert replay.json() == paid and replay.headers["idempotent-replayed"] == "true"

        membership_id = paid["membership"]["id"]
        no_key = client.post(
            f"{OB}/memberships/{membership_id}/refund",
            headers={"X-Api-Key": billing["X-Api-Key"]},
            json={"reason": "7天无理由"},
        )
        assert no_key.status_code == 400
        assert no_key.json()["type"].endswith("/idempotency-key-required")
        refunded = client.post(
            f"{OB}/memberships/{membership_id}/refund",
            headers={"X-Api-Key": billing["X-Api-Key"], "Idempotency-Key": slug("refund")},
            json={"reason": "7天无理由"},
        )
        assert refunded.status_code == 200, refunded.text
        assert refunded.json()["status"] == "refunded"

    seen = asyncio.run(
        events_of(platform.bootstrap_servers, "onboarding.memberships", applicant, REFUNDED)
    )
    assert [kind.split(".")[2:4] for kind, _ in seen] == [
        ["application", "submitted"],
        ["application", "approved"],
        ["membership", "activated"],
        ["member", "welcomed"],  # what content needs to greet the newcomer
        ["membership", "refunded"],
    ]
    assert seen[-1][1]["membership_id"] == membership_id
    assert seen[-1][1]["reason"] == "7天无理由"


async def test_routing_code_under_twenty_concurrent_joins(
    platform: Platform, tenant: Tenant
) -> None:
    owner = bearer(tenant.owner_token)
    with gateway(platform) as client:
        community = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={
                    "slug": slug("city-club"),
                    "name": "同城会",
                    "groups": [{"name": f"{n}群", "capacity": 2} for n in (1, 2, 3)],
                },
            )
        )
        groups = client.get(f"{OB}/communities/{community['id']}/groups", headers=owner).json()[
            "items"
        ]
        code = slug("spring")
        created(
            client.post(
                f"{OB}/routing-codes",
                headers=owner,
                json={
                    "community_id": community["id"],
                    "code": code,
                    "group_ids": [g["id"] for g in groups],
                    "overflow_prefix": "同城会 溢出",
                    "overflow_capacity": 2,
                    "channel": "poster",
                },
            )
        )
        members = [slug("joiner") for _ in range(20)]
        tokens = [member_token(client, tenant, m) for m in members]

    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as concurrent:
        joins = await asyncio.gather(
            *(concurrent.post(f"{OB}/routing-codes/{code}/join", headers=bearer(t)) for t in tokens)
        )
    assert [j.status_code for j in joins] == [201] * 20, [j.text for j in joins if j.is_error]
    joined = [j.json() for j in joins]
    assert sorted(m["member_id"] for m in joined) == sorted(members)  # each placed once
    assert all(m["source"]["channel"] == "poster" for m in joined)

    with gateway(platform) as client:
        after = client.get(f"{OB}/communities/{community['id']}/groups", headers=owner).json()[
            "items"
        ]
    assert all(g["member_count"] <= g["capacity"] for g in after)
    placed = Counter(m["group_id"] for m in joined)
    assert placed == {g["id"]: g["member_count"] for g in after if g["member_count"]}
    overflow = sorted(g["name"] for g in after if g["routing_code_id"])
    assert overflow == sorted(f"同城会 溢出{n}" for n in range(1, 8))  # 20 = 3 × 2 + 7 × 2


def test_another_tenant_finds_nothing(
    platform: Platform, tenant: Tenant, make_tenant: Callable[[str], Tenant]
) -> None:
    other = make_tenant(slug("e2e-other"))
    with gateway(platform) as client:
        owner = bearer(tenant.owner_token)
        community = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={
                    "slug": slug("private-club"),
                    "name": "私密会",
                    "groups": [{"name": "g"}],
                    "application_form": QUESTIONNAIRE,
                },
            )
        )
        cid = community["id"]
        member = bearer(member_token(client, tenant, slug("insider")))
        applied = created(
            client.post(
                f"{OB}/communities/{cid}/applications",
                headers=member,
                json={"answers": {"name": "甲", "city": "上海"}},
            )
        )
        invite = created(client.post(f"{OB}/invites", headers=owner, json={"community_id": cid}))
        mid, aid = applied["membership"]["id"], applied["application"]["id"]

        # With a key: a money-like POST without one is a 400 before anything is looked up.
        stranger = {**bearer(other.owner_token), "Idempotency-Key": slug("probe")}
        probes = [
            ("GET", f"{OB}/communities/{cid}", None),
            ("GET", f"{OB}/communities/{cid}/groups", None),
            ("POST", f"{OB}/communities/{cid}/groups", {"name": "x"}),
            ("GET", f"{OB}/communities/{cid}/application-form", None),
            ("GET", f"{OB}/memberships/{mid}", None),
            ("POST", f"{OB}/memberships/{mid}/refund", {}),
            ("GET", f"{OB}/applications/{aid}", None),
            ("POST", f"{OB}/applications/{aid}/approve", {}),
            ("GET", f"{OB}/invites/{invite['id']}", None),
            ("POST", f"{OB}/invites", {"community_id": cid}),
        ]
        for method, url, body in probes:
            answer = client.request(method, url, json=body, headers=stranger)
            assert answer.status_code == 404, (method, url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        their_member = bearer(other.member_token)
        for url in (
            f"{OB}/communities/{cid}/join",
            f"{OB}/invites/{invite['code']}/redeem",
        ):
            assert client.post(url, headers=their_member).status_code == 404, url
        listing = client.get(f"{OB}/memberships", headers=stranger)
        assert listing.status_code == 200 and listing.json()["items"] == []


def test_a_member_creates_an_invite_link_and_sees_who_joined(
    platform: Platform, tenant: Tenant
) -> None:
    """裂变 through the gateway: a member's own link, friends joining with it (placed by the
    community's routing code), and the member's view of who came through it."""
    owner = bearer(tenant.owner_token)
    with gateway(platform) as client:
        community = created(
            client.post(
                f"{OB}/communities",
                headers=owner,
                json={
                    "slug": slug("invite-club"),
                    "name": "读书会（邀请）",
                    "groups": [{"name": "1群", "capacity": 1}],
                },
            )
        )
        cid = community["id"]
        [group] = client.get(f"{OB}/communities/{cid}/groups", headers=owner).json()["items"]
        code = slug("poster")
        created(
            client.post(
                f"{OB}/routing-codes",
                headers=owner,
                json={
                    "community_id": cid,
                    "code": code,
                    "group_ids": [group["id"]],
                    "overflow_prefix": "读书会 ",
                    "overflow_capacity": 5,
                },
            )
        )
        inviter = slug("alice")
        alice = bearer(member_token(client, tenant, inviter))
        created(client.post(f"{OB}/communities/{cid}/join", headers=alice))
        link = created(
            client.post(
                f"{OB}/invites", headers=alice, json={"community_id": cid, "channel": "朋友圈"}
            )
        )
        assert link["inviter_id"] == inviter

        friends = [slug("friend") for _ in range(2)]
        for friend in friends:
            token = bearer(member_token(client, tenant, friend))
            joined = created(
                client.post(
                    f"{OB}/invites/{link['code']}/redeem",
                    headers=token,
                    json={"routing_code": code},
                )
            )
            assert joined["source"]["inviter_id"] == inviter
            assert joined["group_id"] is not None  # 1群, then an overflow group

        mine = client.get(f"{OB}/invites", headers=alice, params={"community_id": cid})
        assert [i["id"] for i in mine.json()["items"]] == [link["id"]]
        invitees = client.get(f"{OB}/invites/{link['id']}/invitees", headers=alice)
        assert invitees.status_code == 200, invitees.text
        assert [i["member_id"] for i in invitees.json()["items"]] == friends
        assert {i["status"] for i in invitees.json()["items"]} == {"active"}
        stranger = bearer(member_token(client, tenant, slug("bob")))
        hidden = client.get(f"{OB}/invites/{link['id']}/invitees", headers=stranger)
        assert hidden.status_code == 404
