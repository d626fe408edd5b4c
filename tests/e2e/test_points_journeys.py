"""Points across services, over real HTTP and Kafka: a member joins by an invite →
onboarding publishes the activation → rewards credits the join bonus and the
inviter's referral → rewards publishes level.changed → onboarding lets the inviter,
and not the newcomer, into a level-gated community."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def member(client: httpx.Client, tenant: Tenant, external_id: str) -> dict[str, str]:
    minted = client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": tenant.api_key},
        json={"external_id": external_id},
    )
    assert minted.status_code == 201, minted.text
    return bearer(minted.json()["access_token"])


def eventually(read: Callable[[], Any], expected: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    seen = read()
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = read()
    assert seen == expected


def test_invite_credits_both_members_and_levels_open_a_gated_community(
    platform: Platform, tenant: Tenant
) -> None:
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        community = client.post(
            f"{OB}/communities", headers=owner, json={"slug": f"runners-{suffix}", "name": "跑步群"}
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]
        host_id, newbie_id = f"host-{suffix}", f"newbie-{suffix}"
        host, newbie = member(client, tenant, host_id), member(client, tenant, newbie_id)
        assert client.post(f"{OB}/communities/{cid}/join", headers=host).status_code == 201
        invite = client.post(
            f"{OB}/invites",
            headers=owner,
            json={"community_id": cid, "inviter_id": host_id, "channel": "wechat-moments"},
        )
        assert invite.status_code == 201, invite.text
        joined = client.post(f"{OB}/invites/{invite.json()['code']}/redeem", headers=newbie)
        assert joined.status_code == 201, joined.text

        def available(headers: dict[str, str]) -> Any:
            summary = client.get("/v1/rewards/me/summary", headers=headers)
            return summary.json().get("available") if summary.status_code == 200 else None

        # Open community, no refund window: bonuses are available at once.
        eventually(lambda: available(newbie), 10)  # join bonus
        eventually(lambda: available(host), 30)  # own join bonus + referral

        gated = client.post(
            f"{OB}/communities",
            headers=owner,
            json={"slug": f"club-{suffix}", "name": "精英俱乐部", "min_level": 3},
        )
        assert gated.status_code == 201, gated.text
        gid = gated.json()["id"]
        refused = client.post(f"{OB}/communities/{gid}/join", headers=newbie)
        assert refused.status_code == 403 and refused.json()["type"].endswith("/level-required")
        # 30 lifetime points is level 3: rewards → Kafka → onboarding's level projection.
        eventually(
            lambda: (
                client.post(f"{OB}/communities/{gid}/join", headers=host).status_code in (200, 201)
            ),
            True,
        )


def test_refund_inside_the_window_reverses_the_pending_bonuses(
    platform: Platform, tenant: Tenant
) -> None:
    """Paid community, 72 h refund window: the join bonus and the referral wait as pending
    points; the invitee's refund reaches rewards over Kafka and takes both back."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        key = client.post(
            "/v1/api-keys", headers=owner, json={"name": "billing", "scopes": ["payments:write"]}
        )
        assert key.status_code == 201, key.text
        billing = {"X-Api-Key": key.json()["key"]}
        community = client.post(
            f"{OB}/communities",
            headers=owner,
            json={
                "slug": f"paid-{suffix}",
                "name": "写作营",
                "join_policy": "paid",
                "price_cents": 9900,
                "currency": "CNY",
                "term_kind": "rolling",
                "term_days": 30,
                "refund_window_hours": 72,
            },
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]

        def pay(member_id: str) -> dict[str, Any]:
            paid = client.post(
                f"{OB}/payments",
                headers={**billing, "Idempotency-Key": f"pay-{member_id}"},
                json={
                    "reference": f"wx-{member_id}",
                    "community_id": cid,
                    "member_id": member_id,
                    "amount_cents": 9900,
                    "currency": "CNY",
                },
            )
            assert paid.status_code == 201, paid.text
            return dict(paid.json()["membership"])

        host_id, newbie_id = f"host-{suffix}", f"newbie-{suffix}"
        host, newbie = member(client, tenant, host_id), member(client, tenant, newbie_id)
        assert pay(host_id)["status"] == "active"
        invite = client.post(
            f"{OB}/invites", headers=owner, json={"community_id": cid, "inviter_id": host_id}
        )
        assert invite.status_code == 201, invite.text
        redeemed = client.post(f"{OB}/invites/{invite.json()['code']}/redeem", headers=newbie)
        assert redeemed.status_code == 201, redeemed.text
        assert redeemed.json()["status"] == "pending_payment"
        membership = pay(newbie_id)
        assert membership["source"]["inviter_id"] == host_id

        def points(headers: dict[str, str]) -> Any:
            summary = client.get("/v1/rewards/me/summary", headers=headers)
            if summary.status_code != 200:
                return None
            body = summary.json()
            return body["available"], body["pending"], body["lifetime"]

        # Pending through the refund window: nothing to spend yet.
        eventually(lambda: points(newbie), (0, 10, 10))  # join bonus
        eventually(lambda: points(host), (0, 30, 30))  # own join bonus + referral

        refunded = client.post(
            f"{OB}/memberships/{membership['id']}/refund",
            headers={**billing, "Idempotency-Key": f"refund-{membership['id']}"},
            json={"reason": "不合适"},
        )
        assert refunded.status_code == 200, refunded.text
        eventually(lambda: points(newbie), (0, 0, 0))
        eventually(lambda: points(host), (0, 10, 10))  # the referral is gone, the own bonus stays
